# pyright: strict
"""Une commande `forge audit:*` par module ; chacun expose `main(args) -> int`."""

from __future__ import annotations

__all__ = ["shown"]


def shown(value: str, limit: int = 80) -> str:
    """`value` affichable sans risque sur une ligne de terminal.

    Caractères de contrôle, séquences d'échappement, séparateurs de ligne et
    surrogates isolés (octets invalides de argv) sont montrés échappés
    (« \\x1b », « \\udcff ») : rien ne part brut vers le terminal, et
    l'écriture sur une sortie UTF-8 stricte ne lève jamais. Au-delà de `limit`
    caractères, la valeur est coupée et le dit (« … »).
    """
    cut = value[:limit]
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in cut)
    return text + ("…" if len(value) > limit else "")
