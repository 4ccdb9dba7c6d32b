# pyright: strict
"""`forge audit:show` : le journal dans le terminal, page par page.

Les entrées les plus récentes d'abord, en tableau à la largeur du terminal
(ou en JSON Lines avec --json). La dernière ligne donne la commande exacte de
la page suivante : le curseur `--before-id`, jamais un décalage qui sauterait
ou répéterait des entrées pendant que le journal grandit.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from typing import Any

from forge_mvc_audit._safe_text import display_width, terminal_text, truncate
from forge_mvc_audit.cli._options import (
    FILTER_HELP,
    INFO,
    add_filter_options,
    filters_from,
    integer,
    parser_for,
    run_command,
    wants_help,
)
from forge_mvc_audit.entry import AuditEntry, entry_from_row
from forge_mvc_audit.export import entry_to_row, jsonl_line
from forge_mvc_audit.query import build_filters
from forge_mvc_audit.store import MAX_LIMIT, fetch_page

__all__ = ["main"]

DEFAULT_LIMIT = 50

_USAGE = f"""\
Usage:
  forge audit:show [options]

Affiche le journal d'audit, les entrées les plus récentes d'abord, en tableau
ajusté à la largeur du terminal. La dernière ligne donne la commande de la page
suivante. Les dates sont en UTC. Les caractères de contrôle enregistrés dans le
journal sont affichés échappés (\\x1b, \\n...), jamais envoyés au terminal.

{FILTER_HELP}  --before-id ID        Entrées d'identifiant inférieur à ID (page suivante).

Affichage :
  --limit N             Nombre d'entrées par page, de 1 à {MAX_LIMIT} (défaut : {DEFAULT_LIMIT}).
  --json                Une entrée par ligne en JSON (id, created_at, actor,
                        action, target_type, target_id, details, request_id, ip).
  -h, --help            Affiche cette aide sans rien lire.

Une valeur qui commence par un tiret s'écrit --actor=-valeur.

Exemples :
  forge audit:show --actor prof.dupont --since 2026-09-01
  forge audit:show --target note:42 --limit 20
  forge audit:show --action connexion --json"""

_GAP = "  "
_MIN_WIDTH = 6
# (titre, colonne rétrécissable ?) ; l'id et la date gardent leur largeur.
_HEADERS: dict[str, tuple[str, bool]] = {
    "id": ("ID", False),
    "created_at": ("DATE (UTC)", False),
    "actor": ("ACTEUR", True),
    "action": ("ACTION", True),
    "target": ("CIBLE", True),
    "request_id": ("REQUÊTE", True),
    "ip": ("IP", True),
    "details": ("DÉTAILS", True),
}


def _parser() -> argparse.ArgumentParser:
    parser = parser_for("audit:show")
    add_filter_options(parser)
    parser.add_argument("--limit", type=integer(maximum=MAX_LIMIT), default=DEFAULT_LIMIT)
    parser.add_argument("--json", action="store_true")
    return parser


def _target(entry: AuditEntry) -> str:
    if entry.target_id is None:
        return entry.target_type or ""
    return f"{entry.target_type or ''}:{entry.target_id}"


def _cells(entry: AuditEntry, columns: list[str]) -> list[str]:
    values: dict[str, str | None] = {
        "id": str(entry.id),
        "created_at": entry.created_at,
        "actor": entry.actor,
        "action": entry.action,
        "target": _target(entry),
        "request_id": entry.request_id,
        "ip": entry.ip,
        "details": entry.details,
    }
    return [terminal_text(values[column] or "") for column in columns]


def fit_widths(natural: list[int], flexible: list[bool], available: int) -> list[int]:
    """Largeurs de colonnes tenant dans `available` : les plus larges rétrécissent d'abord.

    Les colonnes fixes gardent leur largeur ; les autres sont ramenées à un
    même plafond, le plus haut possible, sans descendre sous `_MIN_WIDTH`
    tant que le terminal le permet.
    """
    if sum(natural) <= available:
        return list(natural)
    count = range(len(natural))

    def widths(cap: int, floor: int) -> list[int]:
        return [min(natural[i], max(cap, floor)) if flexible[i] else natural[i] for i in count]

    # Le plus grand plancher qui tient ; si rien ne tient, le terminal repliera
    # les lignes, autant garder des cellules lisibles.
    floor = next(
        (f for f in range(_MIN_WIDTH, 0, -1) if sum(widths(0, f)) <= available), _MIN_WIDTH
    )
    low, high = 0, max(natural)
    while low < high:  # le plus grand plafond qui tient
        middle = (low + high + 1) // 2
        if sum(widths(middle, floor)) <= available:
            low = middle
        else:
            high = middle - 1
    result = widths(low, floor)
    spare = available - sum(result)
    for i in count:
        if spare <= 0:
            break
        if flexible[i] and result[i] < natural[i]:
            result[i] += 1
            spare -= 1
    return result


def render_table(entries: list[AuditEntry], width: int) -> list[str]:
    """Le tableau des entrées, chaque ligne tenant dans `width` colonnes si possible."""
    columns = [
        column
        for column in _HEADERS
        # Requête et IP n'apparaissent que si la page en contient.
        if column not in ("request_id", "ip") or any(getattr(e, column) for e in entries)
    ]
    titles = [_HEADERS[column][0] for column in columns]
    rows = [_cells(entry, columns) for entry in entries]
    natural = [
        max(display_width(cell) for cell in (title, *(row[i] for row in rows)))
        for i, title in enumerate(titles)
    ]
    available = width - len(_GAP) * (len(columns) - 1)
    widths = fit_widths(natural, [_HEADERS[c][1] for c in columns], available)
    lines: list[str] = []
    for row in (titles, *rows):
        cells: list[str] = []
        for i, cell in enumerate(row):
            shown = truncate(cell, widths[i])
            pad = " " * (widths[i] - display_width(shown))
            cells.append(pad + shown if columns[i] == "id" else shown + pad)
        lines.append(_GAP.join(cells).rstrip())
    return lines


def _next_page(options: argparse.Namespace, last_id: int) -> str:
    """La commande de la page suivante : mêmes options, curseur avancé."""
    target: tuple[str, str | None] | None = options.target
    if target is not None:
        target_text = target[0] if target[1] is None else f"{target[0]}:{target[1]}"
    else:
        target_text = None
    parts = ["forge audit:show"]
    for flag, value in (
        ("--actor", options.actor),
        ("--action", options.action),
        ("--target", target_text),
        ("--request-id", options.request_id),
        ("--since", options.since),
        ("--until", options.until),
    ):
        if value is not None:
            quoted = _shell_quote(value)
            # « --actor -x » serait lu comme deux options : la forme = lève le doute.
            parts.append(f"{flag}={quoted}" if value.startswith("-") else f"{flag} {quoted}")
    if options.limit != DEFAULT_LIMIT:
        parts.append(f"--limit {options.limit}")
    if options.json:
        parts.append("--json")
    parts.append(f"--before-id {last_id}")
    return " ".join(parts)


def _shell_quote(value: str) -> str:
    """`value` pour un shell POSIX, sans jamais un caractère de contrôle brut.

    Une valeur non imprimable passe en citation ANSI-C de bash ($'...'), où
    les échappements de `terminal_text` gardent leur sens : la commande
    affichée, recopiée, filtre exactement la même valeur.
    """
    if value.isprintable():
        return shlex.quote(value)
    return "$'" + terminal_text(value.replace("\\", "\\\\").replace("'", "\\'")) + "'"


def _show(args: list[str]) -> int:
    if wants_help(args):
        print(_USAGE)
        return 0
    options = _parser().parse_args(args)
    filters = build_filters(**filters_from(options))
    limit: int = options.limit
    # Une entrée de plus que la page : savoir s'il existe une suite sans compter.
    rows: list[dict[str, Any]] = fetch_page(limit + 1, filters)
    entries = [entry_from_row(row) for row in rows[:limit]]
    more = len(rows) > limit
    out = sys.stdout
    if options.json:
        for entry in entries:
            out.write(jsonl_line(entry_to_row(entry)) + "\n")
        footer_stream = sys.stderr  # stdout reste du JSON pur
    else:
        if entries:
            width = shutil.get_terminal_size().columns
            out.write("\n".join(render_table(entries, width)) + "\n")
        footer_stream = out
    out.flush()
    if not entries:
        footer = f"{INFO} Aucune entrée ne correspond à cette sélection."
    elif more:
        footer = (
            f"{INFO} {len(entries)} entrées, les plus récentes d'abord. Page suivante : "
            f"{_next_page(options, entries[-1].id)}"
        )
    else:
        count = len(entries)
        footer = f"{INFO} {count} entrée{'s' if count > 1 else ''} : fin de la sélection."
    print(footer, file=footer_stream)
    return 0


def main(args: list[str]) -> int:
    """Point d'entrée de `forge audit:show`."""
    return run_command(lambda: _show(args))
