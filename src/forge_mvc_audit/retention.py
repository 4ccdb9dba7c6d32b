# pyright: strict
"""Rétention : borne par âge, comptage et purge par lots du journal.

La purge supprime par plages d'id, chaque lot dans sa propre transaction
courte : aucune instruction ne tient la table longtemps, et une purge
interrompue laisse un journal cohérent qu'une nouvelle purge termine.

Sur un journal scellé (`forge audit:seal`), seuls des segments scellés entiers
partent : la borne est arrondie au dernier scellement dont toutes les entrées
sont antérieures à la borne, et la purge est inscrite dans la chaîne (un
maillon « purge ») **avant** la première suppression. `audit:verify` reste donc
vert après une purge légitime, même interrompue, et rouge après toute autre
suppression.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from core.database import db as forge_db
from core.database.backend import get_backend
from core.database.connection import close_connection, get_connection
from core.database.qualify import raise_qualified
from core.database.retention import cutoff_for_days as _core_cutoff
from core.database.timestamps import utc_now
from core.database.transaction import Transaction

from forge_mvc_audit._chain import (
    KIND_PURGE,
    KIND_SEAL,
    MODE_HMAC,
    MODE_PLAIN,
    Seal,
    chain_head,
    compute_mac,
    insert_seals,
    iter_seals,
    read_key,
)
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import TIMESTAMP_FORMAT, sql_stamp
from forge_mvc_audit.store import run_db, utc_timestamp
from forge_mvc_audit.tables import SEAL_TABLE_NAME, TABLE_NAME

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "PurgePlan",
    "count_audit_before",
    "cutoff_for_days",
    "plan_purge",
    "purge_audit_before",
]

DEFAULT_BATCH_SIZE = 5000

#: Entrées supprimées par instruction, au plus, dans un lot.
STATEMENT_ROWS = 1000

# SQL Server plafonne une requête à 2100 paramètres.
_IN_CHUNK = 500


def cutoff_for_days(keep_days: int, *, now: datetime | None = None) -> str:
    """La borne de rétention : l'instant UTC `keep_days` jours avant `now`.

    Au format du journal (`AAAA-MM-JJ HH:MM:SS`). Une rétention qui n'est pas
    un entier >= 1 lève `AuditError` : aucune valeur par défaut n'est supposée.
    """
    instant = now if now is not None else utc_now()
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC).replace(tzinfo=None)
    try:
        # Le cœur valide la rétention et en donne les messages d'erreur...
        _core_cutoff(keep_days, now=instant, quoi="le journal d'audit")
    except ValueError as error:
        raise AuditError(str(error)) from None
    # ... mais écrit l'an 99 « 99-... » ; le journal le compare comme texte.
    return sql_stamp(instant - timedelta(days=keep_days))


def _check_cutoff(cutoff: object) -> str:
    if isinstance(cutoff, datetime):
        if cutoff.tzinfo is not None:
            cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
        return sql_stamp(cutoff)
    if isinstance(cutoff, str):
        try:
            parsed = datetime.strptime(cutoff, TIMESTAMP_FORMAT)
        except ValueError:
            parsed = None
        if parsed is not None and sql_stamp(parsed) == cutoff:
            return cutoff
    raise AuditError(
        f"Borne de purge illisible : {cutoff!r} ; attendu « AAAA-MM-JJ HH:MM:SS » (UTC) "
        "ou un datetime, par exemple cutoff_for_days(90)."
    )


def _check_batch(batch_size: object) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise AuditError(f"batch_size doit être un entier >= 1, pas {batch_size!r}.")
    return batch_size


def count_audit_before(cutoff: str | datetime, *, db: Any = None) -> int:
    """Nombre d'entrées dont `created_at` est strictement antérieur à `cutoff`."""
    bound = _check_cutoff(cutoff)
    handle: Any = forge_db if db is None else db
    sql = f"SELECT COUNT(*) AS n FROM {TABLE_NAME} WHERE created_at < ?"
    row = run_db(lambda: handle.fetch_one(sql, [bound]))
    return 0 if row is None else int(row["n"])


@dataclass(frozen=True, slots=True)
class PurgePlan:
    """Ce qu'une purge à `cutoff` supprimerait, sans rien supprimer.

    `sealed` : le journal a une chaîne de scellements ; la purge s'arrête alors
    à l'id `boundary` (fin du scellement n°`boundary_seq`), et `kept_old`
    entrées antérieures à la borne restent, parce qu'elles ne sont pas dans un
    segment scellé entièrement ancien. `to_delete` : entrées qui partiraient.
    """

    cutoff: str
    old: int
    to_delete: int
    sealed: bool
    boundary: int | None = None
    boundary_seq: int | None = None
    purged_up_to: int = 0

    @property
    def kept_old(self) -> int:
        return max(self.old - self.to_delete, 0)


def _seal_table_exists(handle: Any) -> bool:
    try:
        handle.fetch_one(f"SELECT COUNT(*) AS n FROM {SEAL_TABLE_NAME}")
    except Exception as error:
        try:
            if get_backend().is_undefined_table_error(error):
                return False
        except Exception:
            pass
        raise
    return True


def _sealed_plan(bound: str, db: Any) -> tuple[Seal | None, int, int, int]:
    """Parcourt la chaîne : (scellement-borne, purgé jusqu'à, entrées à purger, maillons).

    La borne est la fin du plus long préfixe de scellements dont la plus récente
    entrée est antérieure à `bound`.
    """
    prefix: list[Seal] = []
    in_prefix = True
    purged_up_to = 0
    count = 0
    for seal in iter_seals(db, light=True, batch=500):
        count += 1
        if seal.kind == KIND_PURGE:
            purged_up_to = max(purged_up_to, seal.last_id)
        elif seal.kind == KIND_SEAL and in_prefix:
            if seal.max_created is not None and seal.max_created < bound:
                prefix.append(seal)
            else:
                in_prefix = False
    rows = sum(s.row_count for s in prefix if s.last_id > purged_up_to)
    return (prefix[-1] if prefix else None), purged_up_to, rows, count


def plan_purge(cutoff: str | datetime, *, db: Any = None) -> PurgePlan:
    """Ce que `purge_audit_before(cutoff)` supprimerait ; ne supprime rien."""
    bound = _check_cutoff(cutoff)
    handle: Any = forge_db if db is None else db
    old = count_audit_before(bound, db=db)
    if not _seal_table_exists(handle):
        return PurgePlan(cutoff=bound, old=old, to_delete=old, sealed=False)
    boundary, purged_up_to, _rows, seals = _sealed_plan(bound, db)
    if seals == 0:
        return PurgePlan(cutoff=bound, old=old, to_delete=old, sealed=False)
    end = max(purged_up_to, 0 if boundary is None else boundary.last_id)
    sql = f"SELECT COUNT(*) AS n FROM {TABLE_NAME} WHERE id <= ?"
    row = run_db(lambda: handle.fetch_one(sql, [end]))
    return PurgePlan(
        cutoff=bound,
        old=old,
        to_delete=0 if row is None else int(row["n"]),
        sealed=True,
        boundary=end or None,
        boundary_seq=None if boundary is None or boundary.last_id != end else boundary.seq,
        purged_up_to=purged_up_to,
    )


def purge_audit_before(
    cutoff: str | datetime,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    db: Any = None,
    key: str | bytes | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Supprime les entrées antérieures à `cutoff`, par lots ; rend le nombre supprimé.

    Journal scellé : seuls les segments scellés entièrement antérieurs à
    `cutoff` partent, et la purge est d'abord inscrite dans la chaîne (clé
    `key` ou `AUDIT_SEAL_KEY` si la chaîne est en HMAC). `progress`, s'il est
    donné, reçoit le total supprimé après chaque lot.
    """
    bound = _check_cutoff(cutoff)
    size = _check_batch(batch_size)
    handle: Any = forge_db if db is None else db
    if not _seal_table_exists(handle):
        return _purge_by_age(handle, bound, size, progress, check_seals=False)
    boundary, purged_up_to, rows, seals = _sealed_plan(bound, db)
    if seals == 0:
        return _purge_by_age(handle, bound, size, progress, check_seals=True)
    if boundary is not None and boundary.last_id > purged_up_to:
        _record_purge(boundary, purged_up_to, rows, key, db)
        purged_up_to = boundary.last_id
    return _purge_up_to(handle, purged_up_to, size, progress)


def _record_purge(
    boundary: Seal, purged_up_to: int, rows: int, key: str | bytes | None, db: Any
) -> None:
    """Inscrit la purge dans la chaîne, avant toute suppression."""
    head, _sealed = chain_head(db)
    assert head is not None  # la chaîne contient au moins `boundary`
    secret = read_key(key)
    if head.mode == MODE_HMAC and secret is None:
        raise AuditError(
            "Le journal est scellé en HMAC : définissez AUDIT_SEAL_KEY pour inscrire la "
            "purge dans la chaîne. Rien n'a été supprimé."
        )
    draft = Seal(
        seq=head.seq + 1,
        kind=KIND_PURGE,
        first_id=purged_up_to + 1,
        last_id=boundary.last_id,
        row_count=rows,
        gaps=None,
        fingerprints=None,
        max_created=boundary.max_created,
        digest=boundary.mac,
        prev_mac=head.mac,
        mode=MODE_HMAC if secret is not None else MODE_PLAIN,
        mac="",
        created_at=utc_timestamp(),
    )
    insert_seals([replace(draft, mac=compute_mac(draft, secret))], db)


def _purge_up_to(
    handle: Any, last_id: int, size: int, progress: Callable[[int], None] | None
) -> int:
    """Supprime toutes les entrées d'id <= `last_id`, `size` par transaction.

    Tout id <= la fin d'une tranche part : chaque DELETE n'a besoin que de
    cette borne, sur la clé primaire.
    """
    limit = get_backend().dialect.limit_clause()
    find = f"SELECT id FROM {TABLE_NAME} WHERE id <= ? ORDER BY id{limit}"
    delete = f"DELETE FROM {TABLE_NAME} WHERE id <= ?"

    def read_ids(tx: Transaction) -> list[int]:
        rows: list[dict[str, Any]] = run_db(lambda: handle.fetch_all(find, [last_id, size], tx=tx))
        return [int(r["id"]) for r in rows]

    def delete_chunk(chunk: list[int], tx: Any) -> int:
        return int(run_db(partial(handle.execute, delete, [chunk[-1]], tx=tx)))

    return _run_batches(handle, read_ids, delete_chunk, progress)


def _purge_by_age(
    handle: Any,
    bound: str,
    size: int,
    progress: Callable[[int], None] | None,
    *,
    check_seals: bool,
) -> int:
    """Journal jamais scellé : les plus anciennes d'abord, lot par lot, par plage d'id."""
    limit = get_backend().dialect.limit_clause()
    find = f"SELECT id FROM {TABLE_NAME} WHERE created_at < ? ORDER BY created_at, id{limit}"

    def read_ids(tx: Transaction) -> list[int]:
        if check_seals and _has_seal(handle, tx):
            raise AuditError(
                "Un scellement est apparu pendant la purge : relancez-la, elle s'arrêtera "
                "aux segments scellés."
            )
        rows: list[dict[str, Any]] = run_db(lambda: handle.fetch_all(find, [bound, size], tx=tx))
        return sorted(int(r["id"]) for r in rows)

    def delete_chunk(chunk: list[int], tx: Any) -> int:
        return _delete_ids(handle, chunk, bound, tx)

    return _run_batches(handle, read_ids, delete_chunk, progress)


def _run_batches(
    handle: Any,
    read_ids: Callable[[Any], list[int]],
    delete_chunk: Callable[[list[int], Any], int],
    progress: Callable[[int], None] | None,
) -> int:
    """La boucle commune : lire un lot d'id, puis le supprimer dans sa transaction.

    Une seule connexion sert toute la purge, chaque lot y est validé à part :
    rouvrir une connexion par lot vidait le cache de pages de SQLite, relu à
    chaque lot (mesuré, 500 000 entrées sur 1 M : 19,3 s au lieu de 17,2 s).

    Les id sont lus dans une transaction à part, validée avant la suppression.
    Sur SQLite, une transaction qui lit d'abord puis écrit échoue (« database is
    locked ») dès qu'un `record_audit` concurrent a pris le verrou d'écriture,
    SQLite refusant d'attendre ce qui pourrait être un interblocage ; en
    écrivant d'abord, elle attend son tour, et l'écrivain le sien.
    """
    total = 0
    sqlite = get_backend().name == "sqlite"
    with _held_connection() as connection:
        if sqlite:
            _batch(connection, lambda tx: handle.execute(_SQLITE_CACHE, [], tx=tx))
        while True:
            ids = _batch(connection, read_ids)
            if not ids:
                return total
            started = time.monotonic()
            done = _batch(connection, partial(_delete_batch, handle, ids, delete_chunk))
            if sqlite:
                _yield_to_writers(time.monotonic() - started)
            if done == 0 and _still_there(handle, ids[0]):
                # Un déclencheur qui ignore les DELETE : ne pas boucler sans fin.
                raise AuditError(
                    f"La base n'a rien supprimé (id {ids[0]} toujours là) : un déclencheur ou "
                    "un droit empêche la purge."
                )
            total += done
            if progress is not None:
                progress(total)


def _delete_batch(
    handle: Any, ids: list[int], delete_chunk: Callable[[list[int], Any], int], tx: Transaction
) -> int:
    if get_backend().name == "postgres":
        # Signale la purge au déclencheur « ajout seul » facultatif
        # (docs/append_only_postgres.sql), pour cette transaction seulement.
        handle.fetch_one("SELECT set_config('forge_audit.purge', 'on', true) AS v", [], tx=tx)
    return sum(delete_chunk(chunk, tx) for chunk in _chunks(ids))


# SQLite : avec le cache par défaut (2 Mo), un lot qui touche les sept index
# déborde du cache en cours d'instruction, et chaque débordement écrit et
# synchronise le journal : le DELETE d'un lot de 5 000 entrées passait de ~55 à
# ~120 ms (journal d'un million d'entrées). Le réglage ne vaut que pour la
# connexion de la purge, fermée à la fin.
_SQLITE_CACHE = "PRAGMA cache_size = -65536"


@contextmanager
def _held_connection() -> Generator[Any]:
    """Une connexion du backend actif, hors autocommit, rendue quoi qu'il arrive."""
    connection: Any = run_db(get_connection)
    try:
        try:
            previous = connection.autocommit
            connection.autocommit = False
        except Exception as error:
            raise_qualified(error)
        try:
            yield connection
        finally:
            with contextlib.suppress(Exception):  # connexion morte : elle est fermée ensuite
                connection.autocommit = previous
    finally:
        close_connection(connection)


def _batch[T](connection: Any, work: Callable[[Transaction], T]) -> T:
    """`work` dans une transaction de `connection`, validée aussitôt (annulée en cas d'erreur)."""
    try:
        result = work(Transaction(connection))
        connection.commit()
    except Exception as error:
        with contextlib.suppress(Exception):  # la cause d'origine compte seule
            connection.rollback()
        raise_qualified(error)
    return result


def _chunks(ids: list[int]) -> list[list[int]]:
    """Le lot découpé en tranches de `STATEMENT_ROWS` : une instruction chacune.

    Le lot fixe la durée de la transaction (et le nombre de validations), la
    tranche celle de la plus longue instruction.
    """
    return [ids[at : at + STATEMENT_ROWS] for at in range(0, len(ids), STATEMENT_ROWS)]


def _yield_to_writers(held: float) -> None:
    """SQLite : laisse passer les écrivains qui attendent, entre deux lots.

    SQLite n'a pas de file d'attente : un `record_audit` bloqué dort par paliers
    croissants (jusqu'à 100 ms) et retente ; sans pause, la purge reprend le
    verrou avant lui à chaque lot. Mesuré sur un million d'entrées : 26
    écritures en 16 s, 2,8 s d'attente au pire. Une pause de la moitié du
    temps tenu (5 à 100 ms) couvre l'intervalle entre deux tentatives d'un
    écrivain qui a attendu ce temps-là.
    """
    time.sleep(min(0.1, max(0.005, held / 2)))


def _still_there(handle: Any, row_id: int) -> bool:
    sql = f"SELECT COUNT(*) AS n FROM {TABLE_NAME} WHERE id = ?"
    row = run_db(lambda: handle.fetch_one(sql, [row_id]))
    return row is not None and int(row["n"]) > 0


def _delete_ids(handle: Any, ids: list[int], bound: str, tx: Any) -> int:
    low, high = ids[0], ids[-1]
    # created_at suit l'id presque partout : la plage [low, high] contient alors
    # à peu près le lot. Sinon (entrées importées antidatées), une liste d'id
    # évite de parcourir une longue plage pour rien.
    if high - low < 2 * len(ids) + 64:
        sql = f"DELETE FROM {TABLE_NAME} WHERE id >= ? AND id <= ? AND created_at < ?"
        return int(run_db(lambda: handle.execute(sql, [low, high, bound], tx=tx)))
    deleted = 0
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        sql = f"DELETE FROM {TABLE_NAME} WHERE created_at < ? AND id IN ({marks})"
        deleted += int(run_db(partial(handle.execute, sql, [bound, *chunk], tx=tx)))
    return deleted


def _has_seal(handle: Any, tx: Transaction) -> bool:
    row = handle.fetch_one(f"SELECT COUNT(*) AS n FROM {SEAL_TABLE_NAME}", [], tx=tx)
    return row is not None and int(row["n"]) > 0
