# pyright: strict
"""Pont vers forge-mvc-rbac : chaque refus d'accès devient une entrée du journal.

Dépendance facultative (extra `rbac`). Un refus est déjà un chemin d'erreur :
une base d'audit en panne est journalisée via `logging` et avalée, pour que le
403 reste un 403 et ne devienne jamais un 500.
"""

from __future__ import annotations

import logging
from typing import Any

from forge_mvc_audit._values import check_text
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.store import record_audit

__all__ = [
    "DENIAL_ACTION",
    "DENIAL_TARGET_TYPE",
    "audit_permission_denials",
    "denial_details",
    "permission_denials_audited",
    "reset_denial_bridge",
]

logger = logging.getLogger("forge_mvc_audit")

#: Action écrite pour un refus d'accès.
DENIAL_ACTION = "acces.refuse"
#: Type de cible d'un refus : la cible est la permission refusée.
DENIAL_TARGET_TYPE = "permission"

# (action, db) en vigueur ; None = pont désarmé (l'observateur reste inscrit, inerte).
_settings: tuple[str, Any] | None = None


def denial_details(event: Any) -> dict[str, str]:
    """Détails d'un refus : méthode, chemin et garde qui a refusé (les champs connus)."""
    details: dict[str, str] = {}
    for key in ("method", "path", "source"):
        value = getattr(event, key, None)
        if value is not None and value != "":
            details[key] = str(value)
    return details


def _on_denial(event: Any) -> None:
    """Observateur inscrit auprès de forge-mvc-rbac (une seule fois par processus)."""
    settings = _settings
    if settings is None:
        return
    action, db = settings
    try:
        record_audit(
            action,
            actor=getattr(event, "actor", None),
            target_type=DENIAL_TARGET_TYPE,
            target_id=getattr(event, "permission", None),
            details=denial_details(event),
            db=db,
        )
    except Exception:
        logger.warning(
            "Refus d'accès non journalisé (permission %r) : le refus reste appliqué.",
            getattr(event, "permission", None),
            exc_info=True,
        )


def _rbac() -> Any:
    try:
        from forge_mvc_rbac import denials
    except ImportError as error:
        raise AuditError(
            "forge-mvc-rbac n'est pas installé : les refus d'accès ne peuvent pas être "
            "journalisés. Installez-le : pip install --pre 'forge-mvc-audit[rbac]'."
        ) from error
    return denials


def audit_permission_denials(*, action: str = DENIAL_ACTION, db: Any = None) -> None:
    """Journalise chaque refus d'accès de forge-mvc-rbac (acteur, permission, détails).

    À appeler une fois au démarrage ; un second appel ne double pas les
    entrées (il met seulement à jour `action` et `db`).
    """
    global _settings
    if not isinstance(action, str) or not action.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
        raise AuditError("L'action des refus doit être une chaîne non vide.")
    check_text(action, "action")
    denials = _rbac()
    if _on_denial not in denials.denial_observers():
        denials.on_permission_denied(_on_denial)
    _settings = (action, db)


def permission_denials_audited() -> bool:
    """Vrai si les refus d'accès sont en ce moment journalisés."""
    if _settings is None:
        return False
    try:
        from forge_mvc_rbac.denials import denial_observers
    except ImportError:
        return False
    return _on_denial in denial_observers()


def reset_denial_bridge() -> None:
    """Désarme le pont (tests, arrêt) : les refus suivants ne sont plus journalisés."""
    global _settings
    _settings = None
