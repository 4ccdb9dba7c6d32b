# pyright: strict
"""`details` : texte tel quel, ou données structurées en JSON canonique masqué.

La décision d'accepter ou de refuser ne dépend que de la valeur, jamais du
backend : ce qui passe ici s'écrit et se relit à l'identique partout.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, cast

from forge_mvc_audit._values import MAX_DETAILS_BYTES
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.redaction import REDACTED, Fragments, active_fragments

__all__ = [
    "MAX_DEPTH",
    "MAX_DETAILS_ENV",
    "audit_changes",
    "encode_details",
    "max_details_bytes",
    "set_max_details_bytes",
]

#: Variable d'environnement qui abaisse le plafond de `details` (octets UTF-8).
MAX_DETAILS_ENV = "AUDIT_MAX_DETAILS_BYTES"

#: Profondeur maximale d'imbrication des détails structurés (protège aussi des cycles).
MAX_DEPTH = 64

#: Plafond en vigueur ; 0 tant qu'il n'a pas été lu (l'environnement est lu
#: au premier usage). Lu directement par le chemin d'écriture.
loaded_limit: int = 0


def _checked_limit(value: object, origin: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AuditError(f"{origin} doit être un entier d'octets, pas {value!r}.")
    if value < 1:
        raise AuditError(f"{origin} doit être >= 1 (reçu : {value}).")
    if value > MAX_DETAILS_BYTES:
        raise AuditError(
            f"{origin} = {value} dépasse {MAX_DETAILS_BYTES} octets, la capacité de la colonne "
            "details sur MariaDB (TEXT) : la base ne pourrait pas contenir de tels détails."
        )
    return value


def max_details_bytes() -> int:
    """Plafond de `details` en vigueur, en octets UTF-8 (65 535 par défaut)."""
    global loaded_limit
    limit = loaded_limit
    if not limit:
        raw = os.environ.get(MAX_DETAILS_ENV, "").strip()
        if not raw:
            limit = MAX_DETAILS_BYTES
        else:
            try:
                parsed: object = int(raw)
            except ValueError:
                parsed = raw
            limit = _checked_limit(parsed, MAX_DETAILS_ENV)
        loaded_limit = limit
    return limit


def set_max_details_bytes(limit: int | None) -> None:
    """Abaisse le plafond de `details` ; None revient à `AUDIT_MAX_DETAILS_BYTES` (relue)."""
    global loaded_limit
    loaded_limit = 0 if limit is None else _checked_limit(limit, "Le plafond de details")


def _check_size(text: str, limit: int) -> str:
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise AuditError(
                "details contient un caractère Unicode invalide (surrogate isolé)."
            ) from None
    if size > limit:
        raise AuditError(
            f"details dépasse {limit} octets UTF-8 ({size}) : rien n'a été écrit, "
            "rien n'est tronqué."
        )
    return text


def encode_details(details: object) -> str | None:
    """`details` tel qu'il sera écrit, ou `AuditError` avant toute écriture.

    Texte : gardé tel quel (NUL refusé, aucun backend ne le stockerait pareil).
    dict/liste : secrets masqués, puis JSON compact à clés triées, UTF-8.
    """
    if details is None:
        return None
    if isinstance(details, str):
        if "\x00" in details:
            raise AuditError("details contient un caractère NUL (\\x00), refusé par le journal.")
        return _check_size(details, loaded_limit or max_details_bytes())
    if isinstance(details, (dict, list, tuple, Mapping)):
        clean = _clean(details, active_fragments(), 0, "details")  # pyright: ignore[reportUnknownArgumentType]
        try:
            text = json.dumps(
                clean, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            )
        except ValueError as error:
            # NaN/infini (allow_nan) ou entier trop long pour être écrit en décimal.
            raise AuditError(
                f"details contient une valeur non représentable en JSON : {error}."
            ) from None
        return _check_size(text, loaded_limit or max_details_bytes())
    raise AuditError(
        f"details doit être une chaîne, un dict, une liste ou None, pas {type(details).__name__}."
    )


def _is_redacted_pair(value: object) -> bool:
    """Vrai pour `[masqué, masqué]` tel qu'`audit_changes` le produit (à garder tel quel)."""
    if not isinstance(value, list):
        return False
    items: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
    return len(items) == 2 and all(v is None or v == REDACTED for v in items)


def _clean(value: object, fragments: Fragments, depth: int, where: str) -> Any:
    """Copie JSON-able de `value`, secrets masqués ; refuse tout le reste."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if depth >= MAX_DEPTH:
        raise AuditError(
            f"details est imbriqué sur plus de {MAX_DEPTH} niveaux (ou contient un cycle)."
        )
    if isinstance(value, (dict, Mapping)):
        out: dict[str, Any] = {}
        mapping = cast("Mapping[Any, Any]", value)
        for key, item in mapping.items():
            if not isinstance(key, str):
                raise AuditError(
                    f"details : clé {key!r} dans {where} ; les clés doivent être des chaînes."
                )
            if fragments.sensitive(key):
                out[key] = item if _is_redacted_pair(item) else REDACTED
            else:
                out[key] = _clean(item, fragments, depth + 1, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        items: list[Any] | tuple[Any, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return [_clean(v, fragments, depth + 1, f"{where}[{i}]") for i, v in enumerate(items)]
    raise AuditError(
        f"details : valeur de type {type(value).__name__} dans {where}, non sérialisable "
        "en JSON (attendu : texte, nombre, booléen, None, liste ou dict)."
    )


def audit_changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, list[Any]]:
    """Les seuls champs modifiés, `{champ: [avant, après]}`, prêts pour `details=`.

    Un champ présent d'un seul côté compte comme modifié, None tenant lieu du
    côté absent. Un secret modifié apparaît, sans ses valeurs : `[masqué, masqué]`.
    """
    old = _mapping(before, "before")
    new = _mapping(after, "after")
    fragments = active_fragments()
    missing = object()
    changes: dict[str, list[Any]] = {}
    for key in [*old, *(k for k in new if k not in old)]:
        a = old.get(key, missing)
        b = new.get(key, missing)
        if a is not missing and b is not missing and a == b:
            continue
        if fragments.sensitive(str(key)):
            pair = [None if v is missing else REDACTED for v in (a, b)]
        else:
            pair = [None if v is missing else v for v in (a, b)]
        changes[key] = pair
    return changes


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value  # pyright: ignore[reportUnknownVariableType]
    raise AuditError(
        f"audit_changes : {name} doit être un dict ou None, pas {type(value).__name__}."
    )
