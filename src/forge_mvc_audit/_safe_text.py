# pyright: strict
"""Montrer une valeur stockée sans jamais l'envoyer brute à un terminal.

Le journal garde ce qu'on lui a confié, y compris des caractères de contrôle
(ESC, retour chariot, C1), des commandes de mise en page Unicode (U+202E
inverse l'ordre d'affichage) ou des séparateurs de ligne. Un terminal les
interprète : une entrée pourrait effacer ou réécrire les lignes voisines.
"""

from __future__ import annotations

import unicodedata

__all__ = ["display_width", "json_safe", "terminal_lines", "terminal_text", "truncate"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _unsafe(char: str) -> bool:
    # isprintable() refuse les catégories C* et Z* sauf l'espace ASCII ; les
    # espaces Unicode (Zs, l'insécable du français) s'affichent sans danger.
    return not char.isprintable() and unicodedata.category(char) != "Zs"


def terminal_text(text: str) -> str:
    """`text` où chaque caractère de contrôle ou de format est écrit en échappement."""
    if text.isprintable():
        return text
    parts: list[str] = []
    for char in text:
        if not _unsafe(char):
            parts.append(char)
            continue
        code = ord(char)
        named = _NAMED.get(char)
        if named is not None:
            parts.append(named)
        elif code <= 0xFF:
            parts.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            parts.append(f"\\u{code:04x}")
        else:
            parts.append(f"\\U{code:08x}")
    return "".join(parts)


def terminal_lines(text: str) -> str:
    """Comme `terminal_text`, mais les fins de ligne (LF, CRLF) restent des fins de ligne."""
    return "\n".join(terminal_text(line) for line in text.replace("\r\n", "\n").split("\n"))


def json_safe(line: str) -> str:
    """Une ligne JSON (`ensure_ascii=False`) où les caractères dangereux sont en `\\uXXXX`.

    `json.dumps` échappe déjà C0, mais laisse DEL, C1, les contrôles
    bidirectionnels et U+2028 bruts. L'échappement JSON garde la même valeur
    une fois la ligne relue.
    """
    if line.isprintable():
        return line
    parts: list[str] = []
    for char in line:
        if not _unsafe(char):
            parts.append(char)
            continue
        code = ord(char)
        if code > 0xFFFF:  # JSON n'a que \uXXXX : paire de substitution
            code -= 0x10000
            parts.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            parts.append(f"\\u{code:04x}")
    return "".join(parts)


def _char_width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Nombre de colonnes de terminal occupées (idéogrammes et emoji : deux)."""
    if text.isascii():
        return len(text)
    return sum(_char_width(char) for char in text)


def truncate(text: str, width: int) -> str:
    """`text` tenant dans `width` colonnes, terminé par « … » s'il a fallu couper."""
    if display_width(text) <= width:
        return text
    if width <= 0:
        return ""
    used = 0
    kept: list[str] = []
    for char in text:
        size = _char_width(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + "…"
