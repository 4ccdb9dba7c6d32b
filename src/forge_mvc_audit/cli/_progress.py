# pyright: strict
"""L'avancement d'une longue commande : une ligne réécrite sur la sortie d'erreur.

Partagé par `audit:export` (compteur et débit) et `audit:gc` (supprimées sur
total) ; les nombres s'écrivent à la française (12 345).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "fmt"]


def fmt(number: int) -> str:
    """12 345 : les milliers séparés par une espace, comme en français."""
    return f"{number:,}".replace(",", " ")


class Progress:
    """Réécrit `render(compte, secondes écoulées)` sur `stream`, au plus toutes les `every` s.

    `clear()` efface la ligne à la fin (succès ou erreur), pour que le
    message suivant ne s'écrive pas à sa suite.
    """

    def __init__(
        self,
        stream: TextIO,
        render: Callable[[int, float], str],
        *,
        every: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.render = render
        self.every = every
        self.clock = clock
        self.start = clock()
        self.next_at = self.start + every
        self.shown = False

    def __call__(self, count: int) -> None:
        now = self.clock()
        if now < self.next_at:
            return
        self.next_at = now + self.every
        self.stream.write("\r" + self.render(count, now - self.start))
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
