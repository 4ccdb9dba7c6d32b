# pyright: strict
"""Contrôle des valeurs avant toute écriture ou lecture.

Une même règle pour les quatre backends : ce qu'un backend refuserait (NUL sur
PostgreSQL), tronquerait (MariaDB hors mode strict) ou compterait autrement
(SQL Server compte en UTF-16) est refusé ici, avant d'envoyer quoi que ce soit.
"""

from __future__ import annotations

from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.tables import STRING_LENGTH

__all__ = ["MAX_DETAILS_BYTES", "check_int", "check_text", "optional_text"]

#: Plafond de `details` en octets UTF-8 : la capacité d'un TEXT MariaDB, la
#: plus petite des quatre colonnes.
MAX_DETAILS_BYTES = 65_535

_MAX_BIGINT = 2**63 - 1


def check_text(value: str, field: str, max_units: int = STRING_LENGTH) -> str:
    """Refuse NUL, surrogates isolés et dépassement de longueur, sinon rend `value`.

    La longueur est comptée en unités UTF-16, la mesure la plus stricte des
    quatre backends (un caractère hors BMP en vaut deux sous SQL Server) : une
    valeur acceptée tient dans la colonne partout.
    """
    if "\x00" in value:
        raise AuditError(f"{field} contient un caractère NUL (\\x00), refusé par le journal.")
    if value.isascii():
        if len(value) > max_units:
            raise _too_long(field, len(value), max_units)
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuditError(
            f"{field} contient un caractère Unicode invalide (surrogate isolé)."
        ) from None
    if len(value) * 2 > max_units:
        units = len(value.encode("utf-16-le")) // 2
        if units > max_units:
            raise _too_long(field, units, max_units)
    return value


def _too_long(field: str, size: int, limit: int) -> AuditError:
    return AuditError(
        f"{field} est trop long : {size} caractères pour {limit} au plus "
        "(rien n'a été écrit, rien n'est tronqué)."
    )


def optional_text(value: object, field: str, *, allow_int: bool = False) -> str | None:
    """Texte facultatif : None, une chaîne, ou un entier si `allow_int`."""
    if value is None:
        return None
    if isinstance(value, str):
        return check_text(value, field)
    if allow_int and isinstance(value, int) and not isinstance(value, bool):
        try:
            text = str(value)
        except ValueError:
            raise _too_long(field, len(f"{value:x}"), STRING_LENGTH) from None
        return check_text(text, field)
    expected = "une chaîne ou un entier" if allow_int else "une chaîne"
    raise AuditError(f"{field} doit être {expected} ou None, pas {type(value).__name__}.")


def check_int(value: object, field: str, *, minimum: int = 1) -> int:
    """Entier (pas booléen) entre `minimum` et la borne d'un BIGINT."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuditError(f"{field} doit être un entier, pas {type(value).__name__}.")
    if value < minimum or value > _MAX_BIGINT:
        raise AuditError(f"{field} doit être compris entre {minimum} et {_MAX_BIGINT}.")
    return value
