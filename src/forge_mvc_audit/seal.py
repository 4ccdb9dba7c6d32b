# pyright: strict
"""Sceller le journal : `seal_audit_log` prolonge la chaîne de scellements.

Rien sur le chemin d'écriture : `record_audit` ne prend aucun verrou et ne
chaîne rien (une chaîne par ligne se forke dès que deux écrivains insèrent en
même temps). Le scellement vient après coup et ne lit que des entrées plus
anciennes qu'un délai de sécurité.

Pourquoi le délai suffit : un id est attribué à l'INSERT, avant la validation,
et `created_at` est pris juste avant l'INSERT. Si l'entrée d'id `j` a un
`created_at` antérieur à `maintenant - délai`, tout id `i < j` a été attribué
avant elle, donc il y a plus que le délai ; sa transaction, plus courte que le
délai par hypothèse, est terminée : validée (la ligne est lue et scellée) ou
annulée (l'id manquera pour toujours : c'est un trou, inscrit comme tel dans le
scellement). Hypothèses, à respecter par le réglage du délai :

- aucune transaction qui écrit dans le journal ne dure plus que le délai ;
- les horloges des serveurs d'application divergent de moins que le délai ;
- les entrées sont écrites par `record_audit` (un `created_at` fourni à la main
  et antidaté, lors d'un import, sort de ce raisonnement : importez avant de
  sceller, ou dans une transaction courte).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from forge_mvc_audit._chain import (
    KIND_SEAL,
    MODE_HMAC,
    MODE_PLAIN,
    SEAL_MAX_GAPS,
    SEAL_MAX_ROWS,
    Seal,
    chain_head,
    compute_mac,
    encode_gaps,
    fingerprint,
    insert_seals,
    iter_rows,
    read_key,
    row_hash,
)
from forge_mvc_audit.entry import format_timestamp
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import sql_stamp
from forge_mvc_audit.store import utc_timestamp

__all__ = ["DEFAULT_LAG_SECONDS", "SealResult", "seal_audit_log"]

#: Délai de sécurité par défaut : une entrée n'est scellée qu'une minute après
#: son écriture.
DEFAULT_LAG_SECONDS = 60


@dataclass(frozen=True, slots=True)
class SealResult:
    """Ce qu'un appel à `seal_audit_log` a scellé.

    `seals` : les numéros (`seq`) des scellements créés, vide s'il n'y avait
    rien à sceller ; `first_id`/`last_id` : la plage couverte ; `gaps` : le
    nombre d'id absents inscrits comme trous ; `mode` : « hmac-sha256 » ou
    « sha256 » ; `recent_left` : des entrées plus récentes que le délai
    attendent le prochain scellement.
    """

    seals: tuple[int, ...]
    rows: int
    first_id: int | None
    last_id: int | None
    gaps: int
    mode: str
    recent_left: bool


class _Segment:
    """Un scellement en cours de construction."""

    def __init__(self, first_id: int) -> None:
        self.first_id = first_id
        self.next_id = first_id
        self.hasher = hashlib.sha256()
        self.prints: list[str] = []
        self.gaps: list[tuple[int, int]] = []
        self.max_created = ""

    def full(self, row_id: int) -> bool:
        return len(self.prints) >= SEAL_MAX_ROWS or (
            row_id > self.next_id and len(self.gaps) >= SEAL_MAX_GAPS
        )

    def add(self, row_id: int, digest: bytes, created: str) -> None:
        if row_id > self.next_id:
            self.gaps.append((self.next_id, row_id - 1))
        self.hasher.update(digest)
        self.prints.append(fingerprint(digest))
        if created > self.max_created:
            self.max_created = created
        self.next_id = row_id + 1


def check_lag(lag_seconds: object) -> int:
    """Le délai en secondes : entier >= 0, sinon `AuditError`."""
    if isinstance(lag_seconds, bool) or not isinstance(lag_seconds, int):
        raise AuditError(
            f"Le délai de scellement doit être un entier de secondes, pas {lag_seconds!r}."
        )
    if lag_seconds < 0:
        raise AuditError(f"Le délai de scellement doit être >= 0 (reçu : {lag_seconds}).")
    return lag_seconds


def seal_audit_log(
    *,
    lag_seconds: int = DEFAULT_LAG_SECONDS,
    key: str | bytes | None = None,
    db: Any = None,
    now: datetime | None = None,
) -> SealResult:
    """Scelle, dans l'ordre des id, toutes les entrées validées pas encore scellées.

    Seules les entrées plus anciennes que `lag_seconds` sont prises (voir le
    module) ; `now` (UTC, naïf ou non) remplace l'horloge, pour les tests. La
    clé vient de `key`, sinon de la variable `AUDIT_SEAL_KEY` ; sans clé, le
    scellement est un SHA-256 simple, que quiconque peut écrire dans la base
    saurait recalculer. Une chaîne déjà en HMAC refuse de continuer sans
    clé. Un scellement couvre au plus 2048 entrées : autant de scellements que
    nécessaire sont écrits, ensemble, dans une seule transaction courte.
    """
    lag = check_lag(lag_seconds)
    secret = read_key(key)
    mode = MODE_HMAC if secret is not None else MODE_PLAIN
    instant = now or datetime.now(UTC)
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    try:
        horizon = sql_stamp(instant - timedelta(seconds=lag))
    except (OverflowError, ValueError):
        raise AuditError(f"Le délai de scellement est trop grand : {lag} s.") from None
    head, sealed_up_to = chain_head(db)
    if head is not None and head.mode == MODE_HMAC and secret is None:
        raise AuditError(
            "La chaîne de scellements est en HMAC : définissez AUDIT_SEAL_KEY (la même "
            "clé) pour la prolonger. Rien n'a été scellé."
        )

    segments: list[_Segment] = []
    current = _Segment(sealed_up_to + 1)
    recent_left = False
    for rows in iter_rows(db, after_id=sealed_up_to):
        for row in rows:
            created = format_timestamp(row["created_at"])
            if created >= horizon:
                recent_left = True
                break
            row_id = int(row["id"])
            if current.full(row_id):
                segments.append(current)
                current = _Segment(current.next_id)
            current.add(row_id, row_hash(row), created)
        if recent_left:
            break
    if current.prints:
        segments.append(current)

    seals: list[Seal] = []
    prev_mac = None if head is None else head.mac
    seq = 0 if head is None else head.seq
    stamp = utc_timestamp()
    for segment in segments:
        seq += 1
        draft = Seal(
            seq=seq,
            kind=KIND_SEAL,
            first_id=segment.first_id,
            last_id=segment.next_id - 1,
            row_count=len(segment.prints),
            gaps=encode_gaps(segment.first_id, segment.gaps),
            fingerprints="".join(segment.prints),
            max_created=segment.max_created,
            digest=segment.hasher.hexdigest(),
            prev_mac=prev_mac,
            mode=mode,
            mac="",
            created_at=stamp,
        )
        mac = compute_mac(draft, secret)
        seals.append(_with_mac(draft, mac))
        prev_mac = mac
    if seals:
        insert_seals(seals, db)
    return SealResult(
        seals=tuple(s.seq for s in seals),
        rows=sum(s.row_count for s in seals),
        first_id=seals[0].first_id if seals else None,
        last_id=seals[-1].last_id if seals else None,
        gaps=sum(b - a + 1 for seg in segments for a, b in seg.gaps),
        mode=mode,
        recent_left=recent_left,
    )


def _with_mac(seal: Seal, mac: str) -> Seal:
    from dataclasses import replace

    return replace(seal, mac=mac)
