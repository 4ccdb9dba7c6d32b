# pyright: strict
"""Masquage des secrets dans les détails structurés.

Une clé est sensible si son nom, en minuscules, CONTIENT l'un des fragments :
`confirm_password`, `X-CSRF-Token` ou `refresh_token` le sont tous. Le
masquage remplace la valeur, quelle qu'elle soit (texte, nombre, objet), par
`REDACTED` : rien de ce qu'elle contenait n'atteint la base.
"""

from __future__ import annotations

import os

from forge_mvc_audit.errors import AuditError

__all__ = [
    "DEFAULT_REDACTED_KEYS",
    "REDACTED",
    "REDACT_ENV",
    "Fragments",
    "active_fragments",
    "add_redacted_keys",
    "is_sensitive_key",
    "redacted_keys",
    "reset_redacted_keys",
]

#: Valeur écrite à la place d'un secret.
REDACTED = "[masqué]"

#: Fragments sensibles par défaut (comparaison insensible à la casse, par inclusion).
DEFAULT_REDACTED_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "mot_de_passe",
        "passwd",
        "secret",
        "token",
        "api_key",
        "authorization",
        "cookie",
        "csrf",
    }
)

#: Variable d'environnement : fragments supplémentaires, séparés par des virgules.
REDACT_ENV = "AUDIT_REDACT_KEYS"

_added: frozenset[str] = frozenset()


class Fragments:
    """Fragments en vigueur, avec le verdict déjà rendu pour chaque nom de clé."""

    __slots__ = ("_verdicts", "keys", "source")

    def __init__(self, source: tuple[str | None, frozenset[str]], keys: frozenset[str]) -> None:
        self.source = source
        self.keys = keys
        # Les mêmes noms de clés reviennent d'un appel à l'autre : le test par
        # inclusion n'est fait qu'une fois par nom.
        self._verdicts: dict[str, bool] = {}

    def sensitive(self, key: str) -> bool:
        """Vrai si la valeur de `key` doit être masquée."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            lowered = key.lower()
            verdict = any(f in lowered for f in self.keys)
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict


_MAX_VERDICTS = 4096
_active = Fragments((None, frozenset()), DEFAULT_REDACTED_KEYS)


def _normalise(key: object) -> str:
    if not isinstance(key, str) or not key.strip():
        raise AuditError(f"Clé à masquer invalide : {key!r} (une chaîne non vide est attendue).")
    return key.strip().lower()


def add_redacted_keys(*keys: str) -> None:
    """Ajoute des fragments sensibles pour toute l'application (ex. `"iban"`)."""
    global _added
    _added = _added | {_normalise(k) for k in keys}


def reset_redacted_keys() -> None:
    """Oublie les fragments ajoutés par `add_redacted_keys` (l'environnement reste lu)."""
    global _added
    _added = frozenset()


def redacted_keys() -> frozenset[str]:
    """Les fragments en vigueur : défaut, ajouts de l'application, `AUDIT_REDACT_KEYS`."""
    return active_fragments().keys


def active_fragments() -> Fragments:
    """La configuration en vigueur, reconstruite seulement quand elle a changé."""
    global _active
    source = (os.environ.get(REDACT_ENV), _added)
    current = _active
    if current.source == source:
        return current
    from_env = {p.strip().lower() for p in (source[0] or "").split(",") if p.strip()}
    current = Fragments(source, DEFAULT_REDACTED_KEYS | _added | from_env)
    _active = current
    return current


def is_sensitive_key(key: str) -> bool:
    """Vrai si la valeur de `key` doit être masquée."""
    return active_fragments().sensitive(key)
