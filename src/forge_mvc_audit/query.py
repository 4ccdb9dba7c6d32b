# pyright: strict
"""Filtres de lecture : liste blanche de colonnes, période calculée en Python.

Aucune fonction de date dans le SQL : les bornes sont calculées ici et liées
comme paramètres, ce qui donne le même comportement sur les quatre backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from core.database.backend import get_backend

from forge_mvc_audit._values import check_int, optional_text
from forge_mvc_audit.errors import AuditError

__all__ = [
    "FILTER_COLUMNS",
    "TIMESTAMP_FORMAT",
    "Filters",
    "build_filters",
    "parse_bound",
    "sql_stamp",
    "where_clause",
]

#: Format unique des horodatages du journal (UTC).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

#: Filtres d'égalité -> colonne. Seule source des noms de colonnes d'un WHERE.
FILTER_COLUMNS: dict[str, str] = {
    "actor": "actor",
    "action": "action",
    "target_type": "target_type",
    "target_id": "target_id",
    "request_id": "request_id",
}

_DATE_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP_FORM = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_ACCEPTED_FORMS = (
    "formes acceptées : un datetime (ou une date), « AAAA-MM-JJ » ou "
    "« AAAA-MM-JJ HH:MM:SS » (UTC), ou une chaîne vide pour ne pas borner"
)


@dataclass(frozen=True, slots=True)
class Filters:
    """Filtres validés : égalités, période [since, until_excl) et curseur."""

    equals: tuple[tuple[str, str], ...] = ()
    since: str | None = None
    until_excl: str | None = None
    before_id: int | None = None


def _to_utc_naive(value: datetime, field: str) -> datetime:
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            # datetime.min avec un décalage positif tombe avant l'an 1 en UTC.
            raise AuditError(f"{field} hors des dates représentables : {value!r}.") from None
    return value.replace(microsecond=0)


def parse_bound(value: object, field: str) -> tuple[datetime, bool] | None:
    """Lit une borne de période : (instant UTC naïf, jour entier ?) ou None.

    Le booléen dit si la valeur était une date seule : comme `until`, elle
    inclut alors toute la journée.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _to_utc_naive(value, field), False
    if isinstance(value, date):
        # Une date seule (un sélecteur de date) vaut la forme « AAAA-MM-JJ ».
        return datetime(value.year, value.month, value.day), True
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        # strptime seul accepterait « 2026-1-5 » : la forme exacte est vérifiée d'abord.
        whole_day = _DATE_FORM.fullmatch(text) is not None
        if whole_day or _TIMESTAMP_FORM.fullmatch(text):
            try:
                parsed = datetime.strptime(text, "%Y-%m-%d" if whole_day else TIMESTAMP_FORMAT)
            except ValueError:
                pass  # forme juste, date impossible (2026-02-30, 25:00:00)
            else:
                return parsed, whole_day
        raise AuditError(f"{field} illisible : {value!r} ; {_ACCEPTED_FORMS}.")
    raise AuditError(f"{field} doit être un datetime ou une chaîne, pas {type(value).__name__}.")


def _period(since: object, until: object) -> tuple[str | None, str | None]:
    """Bornes liées de la période : `since` incluse, `until` exclue après ajustement."""
    low = parse_bound(since, "since")
    high = parse_bound(until, "until")
    until_excl: datetime | None = None
    if high is not None:
        # `until` inclut sa journée entière (date seule) ou sa seconde entière.
        step = timedelta(days=1) if high[1] else timedelta(seconds=1)
        try:
            until_excl = high[0] + step
        except OverflowError:
            until_excl = None  # au-delà de l'an 9999 : rien n'est plus récent
        # Comparée à la fin incluse de `until` : « since 2026-01-05 12:00:00,
        # until 2026-01-05 » est l'après-midi du 5, pas une période inversée.
        if low is not None and until_excl is not None and low[0] >= until_excl:
            raise AuditError(
                f"Période inversée : since ({_shown(since, low)}) est après "
                f"until ({_shown(until, high)}) ; aucune entrée ne pourrait y figurer."
            )
    since_sql = None if low is None else sql_stamp(low[0])
    until_sql = None if until_excl is None else sql_stamp(until_excl)
    return since_sql, until_sql


def sql_stamp(value: datetime) -> str:
    """Un instant UTC naïf au format du journal, `AAAA-MM-JJ HH:MM:SS`.

    isoformat et non strftime : l'année y a toujours quatre chiffres (« 0099 »,
    quand strftime écrit « 99 »), sans quoi la comparaison textuelle de SQLite
    placerait l'an 99 après 2026.
    """
    return value.replace(microsecond=0).isoformat(sep=" ")


def _shown(value: object, parsed: tuple[datetime, bool]) -> str:
    """Une borne telle que l'utilisateur la reconnaît : sa saisie, ou l'instant UTC."""
    if isinstance(value, str):
        return value.strip()
    return (parsed[0].date().isoformat() if parsed[1] else sql_stamp(parsed[0])) + " UTC"


def build_filters(
    *,
    actor: object = None,
    action: object = None,
    target_type: object = None,
    target_id: object = None,
    request_id: object = None,
    since: object = None,
    until: object = None,
    before_id: object = None,
) -> Filters:
    """Valide les filtres d'une lecture ; lève `AuditError` au moindre défaut."""
    given = {
        "actor": optional_text(actor, "actor"),
        "action": optional_text(action, "action"),
        "target_type": optional_text(target_type, "target_type"),
        "target_id": optional_text(target_id, "target_id", allow_int=True),
        "request_id": optional_text(request_id, "request_id"),
    }
    equals = tuple((name, value) for name, value in given.items() if value is not None)
    since_sql, until_sql = _period(since, until)
    cursor = None if before_id is None else check_int(before_id, "before_id")
    return Filters(equals, since_sql, until_sql, cursor)


def where_clause(filters: Filters) -> tuple[str, list[object]]:
    """Le WHERE paramétré (« » s'il n'y a rien à filtrer) et ses paramètres."""
    # MariaDB compare avec une collation insensible à la casse et aux accents :
    # l'égalité binaire en plus donne la même réponse que les autres backends,
    # la première condition gardant l'index.
    exact = get_backend().name == "mariadb"
    parts: list[str] = []
    params: list[object] = []
    for name, value in filters.equals:
        column = FILTER_COLUMNS[name]
        parts.append(f"{column} = ?")
        params.append(value)
        if exact:
            parts.append(f"BINARY {column} = ?")
            params.append(value)
    if filters.since is not None:
        parts.append("created_at >= ?")
        params.append(filters.since)
    if filters.until_excl is not None:
        parts.append("created_at < ?")
        params.append(filters.until_excl)
    if filters.before_id is not None:
        parts.append("id < ?")
        params.append(filters.before_id)
    if not parts:
        return "", params
    return " WHERE " + " AND ".join(parts), params
