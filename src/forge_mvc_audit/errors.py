# pyright: strict
"""Erreur publique du paquet."""

from __future__ import annotations

__all__ = ["AuditError"]


class AuditError(ValueError):
    """Entrée refusée par le journal d'audit : rien n'a été écrit ni lu.

    Sous-classe de `ValueError`, pour qu'un contrôleur qui attrape déjà les
    erreurs de saisie n'ait rien à changer.
    """
