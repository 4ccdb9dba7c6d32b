# pyright: strict
"""Vérifier le journal scellé : `verify_audit_log` recalcule chaîne et scellements.

Deux lectures en flux, de coût linéaire : la chaîne (`audit_seal`, par `seq`),
puis les entrées, segment par segment, par plages d'id. Chaque anomalie est
rapportée à l'endroit précis : id modifié, id supprimé, id inséré dans une
plage scellée, scellement dont le MAC ne correspond pas, chaîne rompue ou
réordonnée. Les trous inscrits au scellement (insertions annulées) et les
plages purgées par `audit:gc` ne sont jamais des suppressions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from core.database import db as forge_db

from forge_mvc_audit._chain import (
    FINGERPRINT_BYTES,
    KEY_ENV,
    KIND_PURGE,
    KIND_SEAL,
    MODE_HMAC,
    MODE_PLAIN,
    Seal,
    compute_mac,
    decode_gaps,
    fingerprint,
    iter_rows,
    iter_seals,
    read_key,
    row_hash,
    run_seal_db,
)
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.tables import SEAL_TABLE_NAME, TABLE_NAME

__all__ = ["VerifyReport", "format_ranges", "verify_audit_log"]

_PRINT = FINGERPRINT_BYTES * 2


def format_ranges(ranges: list[tuple[int, int]]) -> str:
    """« 5, 9-12 » : des plages d'id, lisibles."""
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


@dataclass(slots=True)
class VerifyReport:
    """Le résultat d'une vérification. `ok` : aucune anomalie.

    Entrées : `modified` (id), `deleted` (plages d'id incluses), `inserted`
    (id présents là où le scellement n'en connaissait pas). Scellements (par
    `seq`) : `bad_mac` (clé erronée ou scellement forgé), `broken_chain`
    (maillon manquant, réordonné, ou précédent qui ne correspond pas),
    `seal_errors` (autres incohérences, avec leur explication). `head_mac` : le
    MAC du dernier maillon, à consigner hors de la base (seul moyen de voir une
    chaîne tronquée de ses derniers maillons). `missing_key` :
    la chaîne est en HMAC et aucune clé n'a été donnée. `weak` : des
    scellements sont en SHA-256 simple, recalculables par qui écrit la base.
    """

    seals: int = 0
    rows: int = 0
    unsealed: int = 0
    purged_up_to: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_mac: str | None = None
    weak: bool = False
    missing_key: bool = False
    modified: list[int] = field(default_factory=lambda: [])
    deleted: list[tuple[int, int]] = field(default_factory=lambda: [])
    inserted: list[int] = field(default_factory=lambda: [])
    bad_mac: list[int] = field(default_factory=lambda: [])
    broken_chain: list[int] = field(default_factory=lambda: [])
    seal_errors: list[tuple[int, str]] = field(default_factory=lambda: [])

    @property
    def ok(self) -> bool:
        return not (
            self.missing_key
            or self.modified
            or self.deleted
            or self.inserted
            or self.bad_mac
            or self.broken_chain
            or self.seal_errors
        )

    @property
    def deleted_ids(self) -> list[int]:
        return [i for a, b in self.deleted for i in range(a, b + 1)]

    def summary(self) -> str:
        """Une ligne : ce qui a été vérifié."""
        if self.seals == 0:
            return "Aucun scellement : rien à vérifier (lancez forge audit:seal)."
        purged = f", purgé jusqu'à l'id {self.purged_up_to}" if self.purged_up_to else ""
        head = f" (MAC {self.head_mac[:16]})" if self.head_mac else ""
        return (
            f"{self.seals} scellement(s) n°{self.first_seq} à {self.last_seq}{head}, "
            f"{self.rows} entrée(s) vérifiée(s){purged}, {self.unsealed} entrée(s) "
            "récente(s) pas encore scellée(s)."
        )

    def problems(self) -> list[str]:
        """Les anomalies, une par ligne, en français."""
        lines: list[str] = []
        if self.missing_key:
            lines.append(
                f"Chaîne scellée en HMAC : définissez {KEY_ENV} pour vérifier les MAC."
            )
        lines += [f"Scellement n°{seq} : MAC invalide (clé erronée ou scellement forgé)."
                  for seq in self.bad_mac]
        lines += [f"Scellement n°{seq} : chaîne rompue ou réordonnée." for seq in self.broken_chain]
        lines += [f"Scellement n°{seq} : {message}" for seq, message in self.seal_errors]
        if self.modified:
            lines.append(f"Entrées modifiées (id) : {_ids(self.modified)}")
        if self.deleted:
            shown = format_ranges(self.deleted[:_SHOWN])
            more = "" if len(self.deleted) <= _SHOWN else f"… ({len(self.deleted_ids)} en tout)"
            lines.append(f"Entrées supprimées (id) : {shown}{more}")
        if self.inserted:
            lines.append(f"Entrées insérées dans une plage scellée (id) : {_ids(self.inserted)}")
        return lines


_SHOWN = 50


def _ids(ids: list[int]) -> str:
    """Les id, les 50 premiers seulement s'il y en a davantage."""
    shown = ", ".join(str(i) for i in ids[:_SHOWN])
    return shown if len(ids) <= _SHOWN else f"{shown}… ({len(ids)} en tout)"


@dataclass(slots=True)
class _Segment:
    seq: int
    first_id: int
    last_id: int


class _Checker:
    def __init__(self, report: VerifyReport, db: Any) -> None:
        self.report = report
        self.db = db

    def deleted(self, start: int, end: int) -> None:
        ranges = self.report.deleted
        if ranges and ranges[-1][1] == start - 1:
            ranges[-1] = (ranges[-1][0], end)
        else:
            ranges.append((start, end))

    def segment(self, seal: Seal, purged: bool) -> None:
        """Compare les entrées présentes de la plage de `seal` à ce qu'il a scellé."""
        report = self.report
        try:
            gaps = decode_gaps(seal.first_id, seal.gaps)
        except ValueError:
            report.seal_errors.append((seal.seq, "liste de trous illisible."))
            return
        expected: list[int] = []
        cursor = seal.first_id
        for start, end in gaps:
            if start < cursor or end > seal.last_id:
                report.seal_errors.append((seal.seq, "liste de trous hors de sa plage."))
                return
            expected.extend(range(cursor, start))
            cursor = end + 1
        expected.extend(range(cursor, seal.last_id + 1))
        prints = seal.fingerprints or ""
        if len(expected) != seal.row_count or len(prints) != _PRINT * seal.row_count:
            report.seal_errors.append(
                (seal.seq, "nombre d'entrées incohérent avec sa plage et ses trous.")
            )
            return
        rows = [
            row
            for batch in iter_rows(self.db, after_id=seal.first_id - 1, up_to=seal.last_id)
            for row in batch
        ]
        report.rows += len(rows)
        ids = [int(row["id"]) for row in rows]
        hashes = [row_hash(row) for row in rows]
        if (
            not purged
            and ids == expected
            and "".join([h[:FINGERPRINT_BYTES].hex() for h in hashes]) == prints
            and hashlib.sha256(b"".join(hashes)).hexdigest() == seal.digest
        ):
            return
        self._walk(seal, expected, prints, ids, hashes, purged)

    def _walk(
        self,
        seal: Seal,
        expected: list[int],
        prints: str,
        ids: list[int],
        hashes: list[bytes],
        purged: bool,
    ) -> None:
        """Le chemin lent, pris seulement s'il y a une anomalie : la localiser."""
        report = self.report
        located = False
        position = {row_id: index for index, row_id in enumerate(expected)}
        present: set[int] = set()
        for row_id, digest in zip(ids, hashes, strict=True):
            index = position.get(row_id)
            if index is None:
                report.inserted.append(row_id)
                located = True
                continue
            present.add(row_id)
            if prints[index * _PRINT : (index + 1) * _PRINT] != fingerprint(digest):
                report.modified.append(row_id)
                located = True
        if purged:
            return
        run_start: int | None = None
        previous = 0
        for row_id in expected:
            if row_id in present:
                continue
            located = True
            if run_start is not None and row_id == previous + 1:
                previous = row_id
                continue
            if run_start is not None:
                self.deleted(run_start, previous)
            run_start = previous = row_id
        if run_start is not None:
            self.deleted(run_start, previous)
        if not located:
            report.seal_errors.append(
                (seal.seq, "empreinte globale différente de ses entrées (scellement altéré).")
            )


def _check_since(since_seal: object) -> int | None:
    if since_seal is None:
        return None
    if isinstance(since_seal, bool) or not isinstance(since_seal, int) or since_seal < 1:
        raise AuditError(f"since_seal doit être un numéro de scellement >= 1, pas {since_seal!r}.")
    return since_seal


def verify_audit_log(
    *,
    db: Any = None,
    since_seal: int | None = None,
    key: str | bytes | None = None,
) -> VerifyReport:
    """Recalcule toute la chaîne de scellements et chaque entrée scellée.

    `since_seal` part d'un scellement de confiance (son lien avec le précédent
    n'est pas vérifié). La clé vient de `key`, sinon de `AUDIT_SEAL_KEY`. Lève
    `AuditError` si `since_seal` est invalide ou n'existe pas ; toute anomalie
    du journal, elle, est rapportée dans le `VerifyReport`.
    """
    since = _check_since(since_seal)
    secret = read_key(key)
    report = VerifyReport()
    segments, max_seq, purge_ends = _check_chain(report, db, since, secret)
    if since is not None and report.first_seq != since:
        raise AuditError(f"Le scellement n°{since} n'existe pas.")
    if since is not None:
        purge_ends += _purges_before(db, since)
    report.purged_up_to = max(purge_ends, default=0)
    checker = _Checker(report, db)
    if segments:
        if since is None:
            _forged_below(report, db, min(s.first_id for s in segments))
        wanted = {s.seq for s in segments}
        for seal in iter_seals(db, from_seq=segments[0].seq):
            if seal.seq > max_seq:
                break
            if seal.seq in wanted:
                checker.segment(seal, purged=seal.last_id <= report.purged_up_to)
        report.unsealed = _count_after(db, max(s.last_id for s in segments))
    return report


def _check_chain(
    report: VerifyReport, db: Any, since: int | None, secret: bytes | None
) -> tuple[list[_Segment], int, list[int]]:
    """Première lecture : maillons, MAC, contiguïté. Rend les segments et les purges."""
    segments: list[_Segment] = []
    seal_macs: dict[int, str] = {}
    purge_ends: list[int] = []
    expected_seq = since if since is not None else 1
    prev_mac: str | None = None
    trusted = since is not None
    hmac_seen = False
    for seal in iter_seals(db, from_seq=since or 0):
        report.seals += 1
        if report.first_seq is None:
            report.first_seq = seal.seq
        report.last_seq = seal.seq
        report.head_mac = seal.mac
        chain_ok = seal.seq == expected_seq and (trusted or seal.prev_mac == prev_mac)
        if not chain_ok:
            report.broken_chain.append(seal.seq)
        trusted = False
        mac_ok = _mac_ok(report, seal, secret, hmac_seen)
        hmac_seen = hmac_seen or seal.mode == MODE_HMAC
        if seal.kind == KIND_SEAL:
            if segments and seal.first_id != segments[-1].last_id + 1:
                report.seal_errors.append(
                    (seal.seq, f"sa plage commence à l'id {seal.first_id}, après "
                     f"l'id {segments[-1].last_id} du scellement précédent.")
                )
            if seal.last_id < seal.first_id:
                report.seal_errors.append((seal.seq, "plage d'id vide ou inversée."))
            else:
                segments.append(_Segment(seal.seq, seal.first_id, seal.last_id))
                seal_macs[seal.last_id] = seal.mac
        elif seal.kind == KIND_PURGE:
            if seal_macs.get(seal.last_id, seal.digest if since else None) != seal.digest:
                report.seal_errors.append(
                    (seal.seq, "purge qui ne désigne aucun scellement antérieur.")
                )
            elif mac_ok:
                purge_ends.append(seal.last_id)
        else:
            report.seal_errors.append((seal.seq, f"type inconnu : {seal.kind!r}."))
        prev_mac = seal.mac
        expected_seq = seal.seq + 1
    return segments, report.last_seq or 0, purge_ends


def _mac_ok(report: VerifyReport, seal: Seal, secret: bytes | None, hmac_seen: bool) -> bool:
    if seal.mode == MODE_PLAIN:
        report.weak = True
        if hmac_seen:
            report.seal_errors.append(
                (seal.seq, "scellé en SHA-256 simple après des scellements HMAC "
                 "(mode dégradé : forgé ou clé oubliée).")
            )
            return False
    elif seal.mode != MODE_HMAC:
        report.bad_mac.append(seal.seq)
        return False
    elif secret is None:
        report.missing_key = True
        return False
    if compute_mac(seal, secret) != seal.mac:
        report.bad_mac.append(seal.seq)
        return False
    return True


def _purges_before(db: Any, since: int) -> list[int]:
    handle: Any = forge_db if db is None else db
    sql = f"SELECT MAX(last_id) AS m FROM {SEAL_TABLE_NAME} WHERE kind = ? AND seq < ?"
    row = run_seal_db(lambda: handle.fetch_one(sql, [KIND_PURGE, since]))
    return [] if row is None or row["m"] is None else [int(row["m"])]


def _forged_below(report: VerifyReport, db: Any, first_id: int) -> None:
    """Une entrée d'id inférieur au premier scellé n'a pu qu'être insérée après coup."""
    handle: Any = forge_db if db is None else db
    sql = f"SELECT id FROM {TABLE_NAME} WHERE id < ? ORDER BY id"
    rows: list[dict[str, Any]] = run_seal_db(lambda: handle.fetch_all(sql, [first_id]))
    report.inserted.extend(int(row["id"]) for row in rows)


def _count_after(db: Any, last_id: int) -> int:
    handle: Any = forge_db if db is None else db
    sql = f"SELECT COUNT(*) AS n FROM {TABLE_NAME} WHERE id > ?"
    row = run_seal_db(lambda: handle.fetch_one(sql, [last_id]))
    return 0 if row is None else int(row["n"])
