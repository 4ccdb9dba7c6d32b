# pyright: strict
"""Écrire et relire le journal : SQL écrit à la main, paramétré, via Forge."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, NoReturn

from core.database import db as forge_db
from core.database.backend import get_backend
from core.database.connection import close_connection, get_connection
from core.database.qualify import raise_qualified
from core.database.transaction import Transaction

from forge_mvc_audit import details as details_module
from forge_mvc_audit._failures import storage_failure
from forge_mvc_audit._values import check_text, optional_text
from forge_mvc_audit.context import check_ip, check_request_id
from forge_mvc_audit.context import get_current as get_context
from forge_mvc_audit.details import encode_details
from forge_mvc_audit.entry import ENTRY_COLUMNS, AuditEntry, entry_from_row
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import TIMESTAMP_FORMAT, Filters, build_filters, where_clause
from forge_mvc_audit.tables import STRING_LENGTH, TABLE_NAME

__all__ = [
    "INSERT_COLUMNS",
    "INSERT_SQL",
    "MAX_LIMIT",
    "count_audit",
    "fetch_page",
    "get_audit_log",
    "iter_value_batches",
    "narrow_period",
    "ordered_source",
    "page_sql",
    "period_probe",
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
_INSERT_RETURNING = INSERT_SQL + " RETURNING id"

# (seconde, texte) : une seule affectation, donc lisible sans verrou.
_clock: tuple[int, str] = (-1, "")
_now = time.time


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


def _translate(error: Exception) -> None:
    """Relève `error` sous une forme claire quand on sait la nommer, sinon ne fait rien.

    Table absente : `AuditError` ; support en lecture seule ou plein : la
    `DatabaseError` de Forge avec un message en français.
    """
    try:
        undefined = bool(get_backend().is_undefined_table_error(error))
    except Exception:
        undefined = False
    if undefined:
        _missing_table(error)
    failure = storage_failure(error)
    if failure is not None:
        raise failure from error


def run_db[T](call: Callable[[], T]) -> T:
    """Exécute `call`, en traduisant « table absente » (`AuditError`) et les pannes
    durables du stockage (`DatabaseError` de Forge) en messages clairs."""
    try:
        return call()
    except Exception as error:
        _translate(error)
        raise


# Entiers dont l'écriture décimale tient à coup sûr dans une colonne de 191.
_INT_BOUND = 10**189
# Un texte imprimable n'a ni NUL ni surrogate isolé ; à 95 caractères au plus,
# il tient dans 191 unités UTF-16 même tout hors BMP : valide sans autre calcul.
_PRINTABLE_FAST = STRING_LENGTH // 2


def prepare_row(
    action: object,
    actor: object = None,
    target_type: object = None,
    target_id: object = None,
    details: object = None,
    request_id: object = None,
    ip: object = None,
    *,
    stamp: str | None = None,
) -> tuple[object, ...]:
    """Valide une entrée et rend ses paramètres d'INSERT, dans l'ordre d'`INSERT_COLUMNS`.

    Acteur, identifiant de requête et IP laissés à None sont pris dans
    l'`audit_context` en vigueur (déjà validés quand il a été posé). `stamp`
    impose l'horodatage (un lot n'en prend qu'un).

    Chemin payé à chaque écriture : le cas courant, déjà valide (texte
    court et imprimable, petit entier), est reconnu en ligne, sans appel ; tout le
    reste passe par les contrôles complets de `_values` et `details`.
    """
    if not (
        type(action) is str
        and 0 < len(action) <= _PRINTABLE_FAST
        and action.isprintable()
        and not action.isspace()
    ):
        if not isinstance(action, str) or not action.strip():
            raise AuditError(
                "L'action est obligatoire : une chaîne non vide, par exemple « note.modifiee »."
            )
        check_text(action, "action")
    context = get_context()
    if context is not None:
        if actor is None:
            actor = context.actor
        request_id = context.request_id if request_id is None else check_request_id(request_id)
        ip = context.ip if ip is None else check_ip(ip)
    else:
        if request_id is not None:
            request_id = check_request_id(request_id)
        if ip is not None:
            ip = check_ip(ip)
    if actor is not None and not (
        type(actor) is str and len(actor) <= _PRINTABLE_FAST and actor.isprintable()
    ):
        actor = optional_text(actor, "actor")
    if target_type is not None and not (
        type(target_type) is str
        and len(target_type) <= _PRINTABLE_FAST
        and target_type.isprintable()
    ):
        target_type = optional_text(target_type, "target_type")
    if target_id is not None:
        if type(target_id) is int and -_INT_BOUND < target_id < _INT_BOUND:
            target_id = str(target_id)
        elif not (
            type(target_id) is str and len(target_id) <= _PRINTABLE_FAST and target_id.isprintable()
        ):
            target_id = optional_text(target_id, "target_id", allow_int=True)
    if details is not None and not (
        type(details) is str
        and details.isascii()
        and len(details) <= details_module.loaded_limit
        and "\x00" not in details
    ):
        details = encode_details(details)
    if stamp is None:
        second = int(_now())
        clock = _clock
        stamp = clock[1] if clock[0] == second else utc_timestamp()
    return (actor, action, target_type, target_id, details, stamp, request_id, ip)


def insert_row(params: tuple[object, ...], db: Any, tx: Transaction | None) -> int:
    """Un seul INSERT ; rend l'identifiant de la ligne."""
    handle: Any = forge_db if db is None else db
    try:
        if get_backend().name == "postgres":
            # RETURNING évite au pilote Forge trois allers-retours (savepoint + lastval).
            row = (
                handle.fetch_one(_INSERT_RETURNING, params)
                if tx is None
                else handle.fetch_one(_INSERT_RETURNING, params, tx=tx)
            )
            return int(row["id"])
        # `tx` n'est passé que s'il est donné : un `db` maison peut ne pas le connaître.
        if tx is None:
            return int(handle.insert(INSERT_SQL, params))
        return int(handle.insert(INSERT_SQL, params, tx=tx))
    except Exception as error:
        _translate(error)
        raise


def record_audit(
    action: str,
    *,
    actor: str | None = None,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: str | Mapping[str, Any] | list[Any] | None = None,
    request_id: str | None = None,
    ip: str | None = None,
    db: Any = None,
    tx: Transaction | None = None,
) -> int:
    """Écrit une entrée et rend son identifiant.

    `details` : texte gardé tel quel, ou dict/liste écrit en JSON canonique,
    secrets masqués. Avec `tx` (une `Transaction` Forge), la ligne part sur sa
    connexion et suit son sort : validée ou annulée avec le changement métier
    qu'elle décrit. Acteur, `request_id` et `ip` omis viennent de
    l'`audit_context` en vigueur.
    """
    return insert_row(
        prepare_row(action, actor, target_type, target_id, details, request_id, ip), db, tx
    )


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


def ordered_source(filters: Filters) -> str:
    """La table d'une lecture triée par id, avec l'indice de plan qu'il faut à MariaDB.

    Avec un filtre d'égalité, l'index de ce filtre (terminé par l'id) donne
    l'ordre. L'optimiseur de MariaDB préfère pourtant parfois parcourir la clé
    primaire depuis l'entrée la plus récente, en supposant les entrées
    retenues réparties au hasard : pour une période ancienne, il lit alors
    presque toute la table (mesuré à 1 M d'entrées, `get_audit_log` d'un
    acteur sur un mois ancien : 148 ms au lieu de 38 ms). L'indice lui retire
    seulement la clé primaire comme source de l'ordre ; les résultats ne
    changent pas.
    """
    if filters.equals and get_backend().name == "mariadb":
        return f"{TABLE_NAME} IGNORE INDEX FOR ORDER BY (PRIMARY)"
    return TABLE_NAME


def page_sql(
    where: str, columns: tuple[str, ...] = ENTRY_COLUMNS, source: str = TABLE_NAME
) -> str:
    """La requête d'une page : ids choisis dans l'index, puis lignes de la page seules.

    Trier d'abord les seuls ids (lus dans l'index qui sert le filtre) évite de
    charger toutes les lignes d'une période pour n'en garder que `limit` :
    mesuré sur SQLite à 1 000 000 de lignes, une journée passe de 0,89 à 0,47 ms.
    Une table dérivée plutôt que `IN (...)` : MariaDB refuse LIMIT dans un IN.
    `columns` vient toujours d'une constante du paquet, `source` d'`ordered_source`,
    jamais d'un appelant.
    """
    limit = get_backend().dialect.limit_clause()
    return (
        f"SELECT {', '.join(f'a.{column}' for column in columns)} FROM (SELECT id FROM "
        f"{source}{where} ORDER BY id DESC{limit}) k JOIN {TABLE_NAME} a ON a.id = k.id "
        "ORDER BY a.id DESC"
    )


def _page_query(limit: int, filters: Filters, columns: tuple[str, ...]) -> tuple[str, list[object]]:
    where, params = where_clause(filters)
    sql = page_sql(where, columns, ordered_source(filters))
    params.append(limit)
    return sql, params


#: Nombre d'entrées d'un acteur dans une période que `narrow_period` accepte de
#: parcourir pour borner la lecture ; au-delà, la période est assez fournie
#: pour que la marche depuis le plus récent trouve vite sa page.
PROBE_LIMIT = 4000


def period_probe(filters: Filters) -> tuple[str, list[object]] | None:
    """La lecture bornée de `narrow_period` (SQL, paramètres), ou None hors de son cas.

    SQLite seulement : sans statistiques, son planificateur marche toujours
    l'index (actor, id, created_at), et la lecture en plus, sans aller-retour
    réseau, ne coûte que son parcours d'index. Un serveur choisit son plan sur
    statistiques, et un aller-retour de plus y coûte davantage que la marche
    évitée (mesuré sur PostgreSQL, 1 M d'entrées, acteur + un mois : 1,9 ms
    avec, 1,25 ms sans).
    """
    actor = next((value for name, value in filters.equals if name == "actor"), None)
    if actor is None or filters.until_excl is None or get_backend().name != "sqlite":
        return None
    where, params = where_clause(replace(filters, equals=(("actor", actor),)))
    # Dans l'ordre de l'index (actor, created_at, id) : parcours sans tri.
    sql = (
        f"SELECT MAX(id) AS top, COUNT(*) AS n FROM (SELECT id FROM {TABLE_NAME}{where} "
        f"ORDER BY created_at DESC, id DESC{get_backend().dialect.limit_clause()}) s"
    )
    params.append(PROBE_LIMIT)
    return sql, params


def narrow_period(filters: Filters, db: Any = None) -> tuple[Filters, int | None]:
    """Acteur et période bornée à droite : le curseur exact de la première entrée.

    Sans cela, la page se lit en marchant l'index (actor, id, created_at) depuis
    l'entrée la plus récente de l'acteur, et chaque entrée postérieure à la
    période est sautée une à une (mesuré à 1 M d'entrées : 1,7 ms pour un mois
    six mois en arrière). Ici, l'index (actor, created_at, id) donne en une
    lecture bornée le plus grand id de l'acteur dans la période : la marche
    commence là. La borne est exacte (aucune entrée retenue n'a un id plus
    grand), quel que soit l'ordre relatif des id et des dates.

    Rend les filtres resserrés (inchangés hors de ce cas, ou si la période
    compte au moins `PROBE_LIMIT` entrées de l'acteur) et, quand il est connu,
    le nombre exact d'entrées de l'acteur dans la période sous le curseur
    (0 : rien à lire).
    """
    query = period_probe(filters)
    if query is None:
        return filters, None
    sql, params = query
    handle: Any = forge_db if db is None else db
    row: dict[str, Any] | None = run_db(lambda: handle.fetch_one(sql, params))
    found = 0 if row is None else int(row["n"])
    if found >= PROBE_LIMIT:
        return filters, None
    if row is None or found == 0:
        return filters, 0
    return replace(filters, before_id=int(row["top"]) + 1), found


def fetch_page(limit: int, filters: Filters, db: Any = None) -> list[dict[str, Any]]:
    """Une page de lignes-dict (`ENTRY_COLUMNS`), id décroissant, sans plafond `MAX_LIMIT`."""
    handle: Any = forge_db if db is None else db
    filters, found = narrow_period(filters, handle)
    if found == 0:
        return []
    sql, params = _page_query(limit, filters, ENTRY_COLUMNS)
    rows: list[dict[str, Any]] = run_db(lambda: handle.fetch_all(sql, params))
    return rows


def iter_value_batches(
    size: int, filters: Filters, columns: tuple[str, ...], db: Any = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Toute la sélection par lots de `size` tuples (ordre de `columns`, `id` en tête).

    Pour l'export, qui lit tout le journal : le curseur avance sur l'id, une
    entrée écrite pendant le parcours n'est ni rendue ni cause de saut. Une
    seule connexion est empruntée pour tout le parcours (en ouvrir une par lot
    coûtait plus que la lecture elle-même sur SQLite), mais chaque lot est
    validé aussitôt lu : aucune transaction ne survit à un lot, rien ne bloque
    les écritures de l'application pendant un long export.
    """
    if db is not None:
        while True:
            sql, params = _page_query(size, filters, columns)
            rows: list[dict[str, Any]] = run_db(lambda: db.fetch_all(sql, params))  # noqa: B023
            batch = [tuple(row[column] for column in columns) for row in rows]
            if batch:
                yield batch
            if len(batch) < size:
                return
            filters = replace(filters, before_id=int(batch[-1][0]))
    connection: Any = run_db(get_connection)
    try:
        while True:
            sql, params = _page_query(size, filters, columns)
            batch = _read_batch(connection, sql, params)
            if batch:
                yield batch
            if len(batch) < size:
                return
            filters = replace(filters, before_id=int(batch[-1][0]))
    finally:
        close_connection(connection)


def _read_batch(connection: Any, sql: str, params: list[object]) -> list[tuple[Any, ...]]:
    cursor: Any = None
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        connection.commit()
        return rows
    except Exception as error:
        with contextlib.suppress(Exception):  # la cause d'origine compte seule
            connection.rollback()
        _translate(error)
        raise_qualified(error)
    finally:
        if cursor is not None:
            cursor.close()


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
    filters = build_filters(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        request_id=request_id,
        since=since,
        until=until,
        before_id=before_id,
    )
    if len(filters.equals) == 1:
        # Acteur seul et période courte (SQLite) : la lecture bornée de
        # `narrow_period` a compté exactement.
        found = narrow_period(filters, handle)[1]
        if found is not None:
            return found
    where, params = where_clause(filters)
    row = run_db(lambda: handle.fetch_one(f"SELECT COUNT(*) AS n FROM {TABLE_NAME}{where}", params))
    return 0 if row is None else int(row["n"])
