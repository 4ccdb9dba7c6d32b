# pyright: strict
"""Écrire et relire le journal : SQL écrit à la main, paramétré, via Forge."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NoReturn

from core.database import db as forge_db
from core.database.backend import get_backend
from core.database.transaction import Transaction, transaction

from forge_mvc_audit._values import MAX_DETAILS_BYTES, check_text, optional_text
from forge_mvc_audit.entry import ENTRY_COLUMNS, AuditEntry, entry_from_row
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import TIMESTAMP_FORMAT, Filters, build_filters, where_clause
from forge_mvc_audit.tables import TABLE_NAME

__all__ = [
    "INSERT_COLUMNS",
    "INSERT_SQL",
    "MAX_LIMIT",
    "count_audit",
    "fetch_page",
    "fetch_values",
    "get_audit_log",
    "record_audit",
    "run_db",
]

#: Nombre maximal d'entrées rendues par un appel à `get_audit_log`.
MAX_LIMIT = 1000

#: Colonnes écrites par `record_audit`, dans l'ordre des paramètres.
INSERT_COLUMNS: tuple[str, ...] = (
    "actor",
    "action",
    "target_type",
    "target_id",
    "details",
    "created_at",
    "request_id",
    "ip",
)
INSERT_SQL = (
    f"INSERT INTO {TABLE_NAME} ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in INSERT_COLUMNS)})"
)

# (seconde, texte) : une seule affectation, donc lisible sans verrou.
_clock: tuple[int, str] = (-1, "")


def utc_timestamp() -> str:
    """L'instant présent, UTC, au format du journal (formaté une fois par seconde)."""
    global _clock
    second = int(time.time())
    cached = _clock
    if cached[0] == second:
        return cached[1]
    text = datetime.fromtimestamp(second, UTC).strftime(TIMESTAMP_FORMAT)
    _clock = (second, text)
    return text


def _missing_table(error: Exception) -> NoReturn:
    raise AuditError(
        f"La table {TABLE_NAME} est absente de la base : lancez "
        "`forge audit:init` puis `forge migration:apply`."
    ) from error


def run_db[T](call: Callable[[], T]) -> T:
    """Exécute `call`, en traduisant « table absente » en `AuditError` claire."""
    try:
        return call()
    except Exception as error:
        try:
            undefined = bool(get_backend().is_undefined_table_error(error))
        except Exception:
            undefined = False
        if undefined:
            _missing_table(error)
        raise


def check_details(details: object) -> str | None:
    """`details` tel qu'il sera écrit : None ou texte de `MAX_DETAILS_BYTES` au plus."""
    if details is None:
        return None
    if not isinstance(details, str):
        raise AuditError(f"details doit être une chaîne ou None, pas {type(details).__name__}.")
    if "\x00" in details:
        raise AuditError("details contient un caractère NUL (\\x00), refusé par le journal.")
    if details.isascii():
        size = len(details)
    else:
        try:
            size = len(details.encode("utf-8"))
        except UnicodeEncodeError:
            raise AuditError(
                "details contient un caractère Unicode invalide (surrogate isolé)."
            ) from None
    if size > MAX_DETAILS_BYTES:
        raise AuditError(
            f"details dépasse {MAX_DETAILS_BYTES} octets UTF-8 ({size}) : rien n'a été "
            "écrit, rien n'est tronqué."
        )
    return details


def prepare_row(
    action: object,
    actor: object,
    target_type: object,
    target_id: object,
    details: object,
) -> tuple[object, ...]:
    """Valide une entrée et rend ses paramètres d'INSERT, dans l'ordre d'`INSERT_COLUMNS`."""
    if not isinstance(action, str) or not action.strip():
        raise AuditError(
            "L'action est obligatoire : une chaîne non vide, par exemple « note.modifiee »."
        )
    return (
        optional_text(actor, "actor"),
        check_text(action, "action"),
        optional_text(target_type, "target_type"),
        optional_text(target_id, "target_id", allow_int=True),
        check_details(details),
        utc_timestamp(),
        None,
        None,
    )


def insert_row(params: tuple[object, ...], db: Any, tx: Transaction | None) -> int:
    """Un seul INSERT ; rend l'identifiant de la ligne."""
    handle: Any = forge_db if db is None else db
    kwargs: dict[str, Any] = {} if tx is None else {"tx": tx}
    if get_backend().name == "postgres":
        # RETURNING évite au pilote Forge trois allers-retours (savepoint + lastval).
        row = run_db(lambda: handle.fetch_one(INSERT_SQL + " RETURNING id", params, **kwargs))
        return int(row["id"])
    return int(run_db(lambda: handle.insert(INSERT_SQL, params, **kwargs)))


def record_audit(
    action: str,
    *,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: str | None = None,
    db: Any = None,
    tx: Transaction | None = None,
) -> int:
    """Écrit une entrée et rend son identifiant.

    Avec `tx` (une `Transaction` Forge), la ligne part sur sa connexion et suit
    son sort : validée ou annulée avec le changement métier qu'elle décrit.
    """
    return insert_row(prepare_row(action, actor, target_type, target_id, details), db, tx)


def _limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise AuditError(f"limit doit être un entier, pas {type(limit).__name__}.")
    if limit < 1:
        raise AuditError(f"limit doit être >= 1 (reçu : {limit}).")
    return min(limit, MAX_LIMIT)


def get_audit_log(
    *,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    before_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    request_id: str | None = None,
    db: Any = None,
) -> list[AuditEntry]:
    """Les entrées les plus récentes d'abord (id décroissant), filtres combinés par ET.

    `limit` est plafonné à `MAX_LIMIT` ; `before_id` ne garde que les entrées
    plus anciennes que cet identifiant (pagination par curseur).
    """
    rows = fetch_page(
        _limit(limit),
        build_filters(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            request_id=request_id,
            since=since,
            until=until,
            before_id=before_id,
        ),
        db,
    )
    return [entry_from_row(row) for row in rows]


def _page_query(limit: int, filters: Filters, columns: tuple[str, ...]) -> tuple[str, list[object]]:
    # `columns` vient toujours d'une constante du paquet, jamais d'un appelant.
    where, params = where_clause(filters)
    sql = (
        f"SELECT {', '.join(columns)} FROM {TABLE_NAME}{where} "
        f"ORDER BY id DESC{get_backend().dialect.limit_clause()}"
    )
    params.append(limit)
    return sql, params


def fetch_page(limit: int, filters: Filters, db: Any = None) -> list[dict[str, Any]]:
    """Une page de lignes-dict (`ENTRY_COLUMNS`), id décroissant, sans plafond `MAX_LIMIT`."""
    handle: Any = forge_db if db is None else db
    sql, params = _page_query(limit, filters, ENTRY_COLUMNS)
    rows: list[dict[str, Any]] = run_db(lambda: handle.fetch_all(sql, params))
    return rows


def fetch_values(
    limit: int, filters: Filters, columns: tuple[str, ...], db: Any = None
) -> list[tuple[Any, ...]]:
    """Comme `fetch_page`, mais chaque ligne en tuple, dans l'ordre de `columns`.

    Pour l'export, qui lit tout le journal : le tuple du pilote évite la
    construction d'un dict par ligne. La lecture passe par une transaction
    Forge (son curseur rend des tuples), courte : un lot, pas l'export entier,
    pour ne jamais bloquer les écritures de l'application pendant un long export.
    """
    sql, params = _page_query(limit, filters, columns)
    if db is not None:
        rows: list[dict[str, Any]] = run_db(lambda: db.fetch_all(sql, params))
        return [tuple(row[column] for column in columns) for row in rows]

    def read() -> list[tuple[Any, ...]]:
        with transaction() as tx:
            cursor = tx.cursor()
            try:
                cursor.execute(sql, params)
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                return rows
            finally:
                cursor.close()

    return run_db(read)


def count_audit(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    before_id: int | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    request_id: str | None = None,
    db: Any = None,
) -> int:
    """Nombre d'entrées qui répondent aux mêmes filtres que `get_audit_log`."""
    handle: Any = forge_db if db is None else db
    where, params = where_clause(
        build_filters(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            request_id=request_id,
            since=since,
            until=until,
            before_id=before_id,
        )
    )
    row = run_db(lambda: handle.fetch_one(f"SELECT COUNT(*) AS n FROM {TABLE_NAME}{where}", params))
    return 0 if row is None else int(row["n"])
