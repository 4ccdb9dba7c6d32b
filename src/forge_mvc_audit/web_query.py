# pyright: strict
"""La lecture derrière la page du journal : formulaire de filtres et pages par curseur.

Le formulaire est validé champ par champ avec les règles (et les messages) de
`get_audit_log`, pour afficher chaque erreur à côté de son champ. Les pages se
lisent par curseur d'identifiant dans les deux sens, jamais par OFFSET : une
entrée ajoutée pendant la lecture ne décale ni ne répète rien.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, cast

from core.database import db as forge_db
from core.database.backend import get_backend

from forge_mvc_audit._values import check_int
from forge_mvc_audit.entry import ENTRY_COLUMNS, AuditEntry, entry_from_row
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import Filters, build_filters, parse_bound, where_clause
from forge_mvc_audit.store import narrow_period, ordered_source, page_sql, run_db
from forge_mvc_audit.tables import TABLE_NAME

__all__ = [
    "FILTER_FIELDS",
    "JournalPage",
    "JournalQuery",
    "ReadFilters",
    "fetch_page",
    "parse_query",
]

#: Champs du formulaire, dans l'ordre d'affichage ; ce sont aussi les noms des
#: paramètres d'URL et des arguments de `get_audit_log`.
FILTER_FIELDS: tuple[str, ...] = (
    "actor",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "since",
    "until",
)

_CURSORS = ("before", "after")


class ReadFilters(TypedDict, total=False):
    """Filtres valides, prêts pour `get_audit_log(**filters)` et `count_audit`."""

    actor: str
    action: str
    target_type: str
    target_id: str
    request_id: str
    since: str
    until: str


@dataclass(frozen=True, slots=True)
class JournalQuery:
    """Ce que la requête demande : valeurs saisies, erreurs par champ, filtres valides."""

    values: dict[str, str] = field(default_factory=dict[str, str])
    errors: dict[str, str] = field(default_factory=dict[str, str])
    filters: ReadFilters = field(default_factory=lambda: ReadFilters())
    before: int | None = None
    after: int | None = None

    @property
    def valid(self) -> bool:
        return not self.errors


def _first(params: Mapping[str, Sequence[str]], name: str) -> str:
    values = params.get(name)
    return values[0] if values else ""


def _cursor(text: str, name: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise AuditError(f"{name} doit être un identifiant entier positif (reçu : {text!r}).")
    return check_int(int(text), name)


def parse_query(params: Mapping[str, Sequence[str]]) -> JournalQuery:
    """Lit les paramètres d'URL (forme `parse_qs`) ; un champ vide ne filtre pas."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    filters: dict[str, str] = {}
    for name in FILTER_FIELDS:
        text = _first(params, name)
        values[name] = text
        if not text.strip():
            continue
        try:
            if name in ("since", "until"):
                parse_bound(text, name)
            else:
                build_filters(**{name: text})
        except AuditError as error:
            errors[name] = str(error)
            continue
        filters[name] = text
    if "since" in filters and "until" in filters:
        try:
            build_filters(since=filters["since"], until=filters["until"])
        except AuditError as error:
            errors["until"] = str(error)
    cursors: dict[str, int | None] = {}
    for name in _CURSORS:
        text = _first(params, name)
        cursors[name] = None
        if text:
            try:
                cursors[name] = _cursor(text, name)
            except AuditError as error:
                errors[name] = str(error)
    return JournalQuery(
        values, errors, cast(ReadFilters, filters), cursors["before"], cursors["after"]
    )


@dataclass(frozen=True, slots=True)
class JournalPage:
    """Une page d'entrées, les plus récentes d'abord, ses voisines et le total."""

    entries: list[AuditEntry]
    has_newer: bool
    has_older: bool
    total: int


_SELECT = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM "

#: Au-delà de ce nombre d'entrées dans une période seule, SQLite lit la page
#: dans la clé primaire plutôt que de trier les id de toute la période. Mesuré à
#: 1 M d'entrées : trier les id d'un mois (85 000) coûte 16 ms, ceux d'une année
#: 190 ms ; la clé primaire coûte ~0,07 µs par entrée plus récente à sauter.
_SORT_LIMIT = 200_000


def _where(
    filters: Filters, extra: list[tuple[str, int]], hide_period_index: bool
) -> tuple[str, list[object]]:
    where, params = where_clause(filters)
    if hide_period_index:
        # SQLite seulement : le « + » unaire, neutre pour la valeur, écarte
        # l'index de `created_at`, que le planificateur (sans statistiques
        # STAT4) préfère à tort : il relit ou trie alors chaque ligne de la
        # période (65 ms pour une action sur un an, 275 ms pour un an seul, à
        # 1 M d'entrées).
        where = where.replace("created_at >= ?", "+created_at >= ?")
        where = where.replace("created_at < ?", "+created_at < ?")
    for condition, value in extra:
        where += (" AND " if where else " WHERE ") + condition
        params.append(value)
    return where, params


def fetch_page(query: JournalQuery, page_size: int, db: Any = None) -> JournalPage:
    """La page demandée par `query` (valide), par curseur `before` ou `after`.

    Sans curseur : les `page_size` plus récentes. `before=N` : les plus
    récentes sous N. `after=N` : les `page_size` plus anciennes au-dessus de N,
    lues en ordre croissant puis retournées, pour revenir exactement à la page
    précédente même si des entrées ont été ajoutées depuis ; s'il n'y en a plus
    assez, c'est la tête du journal.
    """
    handle: Any = forge_db if db is None else db
    # Acteur + période : la page commence au plus grand id de la période (exact),
    # et le compte est déjà fait quand l'acteur est le seul filtre d'égalité.
    filters, found = narrow_period(build_filters(**query.filters), handle)
    sqlite = get_backend().name == "sqlite"
    has_period = filters.since is not None or filters.until_excl is not None
    if found is not None and len(filters.equals) == 1:
        total = found
    else:
        where, params = _where(filters, [], sqlite and has_period and bool(filters.equals))
        sql = f"SELECT COUNT(*) AS n FROM {TABLE_NAME}{where}"
        row = run_db(lambda: handle.fetch_one(sql, params))
        total = 0 if row is None else int(row["n"])
    if not total:
        return JournalPage([], False, False, 0)
    # Une longue période seule : lire la clé primaire en filtrant la date
    # s'arrête à la première page, là où l'index de date trierait tout.
    hide = sqlite and has_period and not filters.equals and total > _SORT_LIMIT
    limit = get_backend().dialect.limit_clause()

    def read(cursor: tuple[str, int] | None, order: str, size: int) -> list[AuditEntry]:
        where, params = _where(filters, [] if cursor is None else [cursor], hide)
        params.append(size)
        source = ordered_source(filters)
        if order == "DESC" and not hide:
            # ids triés dans l'index, puis les seules lignes de la page
            sql = page_sql(where, source=source)
        else:
            sql = f"{_SELECT}{source}{where} ORDER BY id {order}{limit}"
        rows: list[dict[str, Any]] = run_db(lambda: handle.fetch_all(sql, params))
        return [entry_from_row(row) for row in rows]

    probe = page_size + 1
    if query.after is not None and query.before is None:
        entries = read(("id > ?", query.after), "ASC", probe)
        if len(entries) > page_size:
            has_older = bool(read(("id <= ?", query.after), "DESC", 1))
            return JournalPage(entries[:page_size][::-1], True, has_older, total)
        # Plus rien au-dessus : la tête du journal, page pleine.
        entries = read(None, "DESC", probe)
        return JournalPage(entries[:page_size], False, len(entries) > page_size, total)
    cursor = None if query.before is None else ("id < ?", query.before)
    entries = read(cursor, "DESC", probe)
    has_newer = query.before is not None and bool(read(("id >= ?", query.before), "ASC", 1))
    return JournalPage(entries[:page_size], has_newer, len(entries) > page_size, total)
