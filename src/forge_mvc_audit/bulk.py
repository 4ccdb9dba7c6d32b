# pyright: strict
"""Écriture en lot : tout valider, puis des INSERT multi-lignes, tout ou rien."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, cast

from core.database import db as forge_db
from core.database.backend import get_backend
from core.database.transaction import Transaction, transaction

from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.store import INSERT_COLUMNS, prepare_row, run_db, utc_timestamp
from forge_mvc_audit.tables import TABLE_NAME

__all__ = ["ENTRY_KEYS", "record_audit_many", "rows_per_statement"]

#: Clés admises dans une entrée : les arguments nommés de `record_audit`.
ENTRY_KEYS: tuple[str, ...] = (
    "action",
    "actor",
    "target_type",
    "target_id",
    "details",
    "request_id",
    "ip",
)
_KNOWN = frozenset(ENTRY_KEYS)

# Paramètres liés admis par instruction. SQLite : 32 766 depuis 3.32, 999 avant ;
# SQL Server : 2 100 ; PostgreSQL et MariaDB : 65 535 (compteur sur 16 bits).
_PARAM_LIMITS = {
    "sqlite": 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999,
    "mssql": 2_100,
    "postgres": 65_535,
    "mariadb": 65_535,
}
# Lignes par instruction. SQL Server refuse plus de 1 000 lignes dans un
# VALUES ; SQLite n'est plus rapide au-delà de quelques centaines (mesuré :
# 2,3 µs/ligne de 250 à 1 000 lignes, 2,8 à 4 095) ; 1 000 lignes garde les
# colonnes courtes sous 4 Mio (1 000 x ~900 caractères x 4 octets).
_ROW_LIMITS = {"sqlite": 500}
_MAX_ROWS = 1_000
# Caractères de `details` liés par instruction (<= 4 octets chacun) : avec les
# colonnes courtes, une instruction reste sous le max_allowed_packet de
# MariaDB (16 Mio par défaut).
_TEXT_BUDGET = 2_000_000
_DETAILS = INSERT_COLUMNS.index("details")
# Dernière colonne toujours liée : tout ce qui suit est facultatif (NULL par défaut).
_LAST_REQUIRED = INSERT_COLUMNS.index("created_at")


def rows_per_statement(backend: str) -> int:
    """Nombre maximal de lignes par INSERT multi-lignes pour `backend`."""
    per_params = _PARAM_LIMITS.get(backend, 999) // len(INSERT_COLUMNS)
    return min(per_params, _ROW_LIMITS.get(backend, _MAX_ROWS))


@lru_cache(maxsize=64)
def _insert_sql(rows: int, width: int) -> str:
    """INSERT de `rows` lignes sur les `width` premières colonnes d'`INSERT_COLUMNS`."""
    columns = INSERT_COLUMNS[:width]
    one = f"({', '.join('?' for _ in columns)})"
    return f"INSERT INTO {TABLE_NAME} ({', '.join(columns)}) VALUES " + ", ".join([one] * rows)


def _drop_empty_tail(params: list[object]) -> int:
    """Retire les colonnes finales vides pour tout le lot ; rend la largeur restante.

    `request_id` et `ip` (les deux dernières) sont le plus souvent NULL partout :
    ne pas les lier du tout allège chaque ligne (mesuré sur SQLite : -8 %).
    """
    width = len(INSERT_COLUMNS)
    rows = len(params) // width
    while width > _LAST_REQUIRED + 1 and params[width - 1 :: width].count(None) == rows:
        del params[width - 1 :: width]
        width -= 1
    return width


def _entry_error(index: int, entry: object) -> AuditError | None:
    """L'erreur d'une entrée mal formée (pas un dict, clé inconnue, action absente),
    ou None si sa forme est bonne."""
    if not isinstance(entry, Mapping):
        return AuditError(
            f"Entrée d'indice {index} : un dict est attendu, pas {type(entry).__name__}."
        )
    fields = cast("Mapping[Any, Any]", entry)
    unknown: list[Any] = [k for k in fields if k not in _KNOWN]
    if unknown:
        return AuditError(
            f"Entrée d'indice {index} : clé inconnue {unknown[0]!r} "
            f"(clés admises : {', '.join(ENTRY_KEYS)})."
        )
    if "action" not in fields:
        return AuditError(f"Entrée d'indice {index} : l'action est obligatoire.")
    return None


def _prepare_all(entries: Iterable[object]) -> list[object]:
    """Valide chaque entrée par `prepare_row` et rend tous les paramètres, à plat."""
    params: list[object] = []
    extend = params.extend
    # Une seule heure pour tout le lot : il est écrit d'un bloc.
    stamp = utc_timestamp()
    for index, entry in enumerate(entries):
        try:
            # Les clés d'une entrée sont les paramètres de `prepare_row` : une
            # entrée mal formée (clé inconnue, action absente, pas un dict) lève
            # TypeError à l'appel, qualifiée ensuite. Rien n'est vérifié deux fois.
            extend(prepare_row(**entry, stamp=stamp))  # pyright: ignore[reportUnknownArgumentType, reportCallIssue]
        except AuditError as error:
            raise AuditError(f"Entrée d'indice {index} : {error}") from None
        except TypeError:
            shape = _entry_error(index, entry)
            if shape is None:
                raise
            raise shape from None
    return params


def _bounds(params: list[object], width: int, per_statement: int) -> Iterable[tuple[int, int]]:
    """Tranches [début, fin) de lignes : au plus `per_statement`, et `_TEXT_BUDGET`
    caractères de `details` par instruction."""
    total = len(params) // width
    texts: list[str | None] = params[_DETAILS::width]  # type: ignore[assignment]
    if sum(map(len, filter(None, texts))) <= _TEXT_BUDGET:
        # Cas courant : tout le lot tient dans le budget, seul le nombre compte.
        for start in range(0, total, per_statement):
            yield start, min(start + per_statement, total)
        return
    start = 0
    while start < total:
        end = min(start + per_statement, total)
        budget = 0
        for i in range(start, end):
            budget += len(texts[i] or "")
            if budget > _TEXT_BUDGET and i > start:
                end = i
                break
        yield start, end
        start = end


def record_audit_many(
    entries: Iterable[Mapping[str, Any]],
    *,
    db: Any = None,
    tx: Transaction | None = None,
) -> int:
    """Écrit plusieurs entrées, tout ou rien, et rend leur nombre.

    Chaque entrée est un dict aux clés de `record_audit` (`action`, `actor`,
    `target_type`, `target_id`, `details`, `request_id`, `ip`). Toutes sont
    validées avant la moindre écriture ; puis elles partent en aussi peu
    d'INSERT multi-lignes que le backend l'admet, dans la transaction `tx`
    donnée ou dans une transaction ouverte pour l'occasion.
    """
    given = cast(object, entries)  # l'annotation ne protège pas d'un appelant non typé
    kind = type(given).__name__
    if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
        raise AuditError(f"record_audit_many attend une liste d'entrées (des dicts), pas {kind}.")
    params = _prepare_all(entries)
    if not params:
        return 0
    handle: Any = forge_db if db is None else db
    per_statement = rows_per_statement(get_backend().name)

    width = _drop_empty_tail(params)

    def write(on: Transaction) -> None:
        for start, end in _bounds(params, width, per_statement):
            sql = _insert_sql(end - start, width)
            chunk = params[start * width : end * width]
            run_db(lambda: handle.execute(sql, chunk, tx=on))  # noqa: B023

    if tx is not None:
        write(tx)
    else:
        with transaction() as own:
            write(own)
    return len(params) // width
