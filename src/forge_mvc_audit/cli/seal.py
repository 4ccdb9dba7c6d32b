# pyright: strict
"""`forge audit:seal` : scelle les entrées validées pas encore scellées."""

from __future__ import annotations

import argparse
import os

from forge_mvc_audit._chain import KEY_ENV, MODE_PLAIN
from forge_mvc_audit.cli._options import (
    INFO,
    OK,
    RERUN_AFTER_INTERRUPT,
    Once,
    UsageError,
    integer,
    parser_for,
    run_command,
    wants_help,
)
from forge_mvc_audit.cli._progress import fmt
from forge_mvc_audit.seal import DEFAULT_LAG_SECONDS, seal_audit_log

LAG_ENV = "AUDIT_SEAL_LAG"

_USAGE = f"""\
Usage:
  forge audit:seal [--lag SECONDES]

Scelle, dans l'ordre des id, toutes les entrées du journal pas encore scellées
et plus anciennes que le délai de sécurité : plage d'id, nombre d'entrées,
empreinte de chaque entrée, lien avec le scellement précédent, le tout signé
HMAC-SHA-256 avec la clé {KEY_ENV} (jamais écrite en base). Sans clé, le
scellement est un SHA-256 simple, qu'un accès en écriture à la base suffit à
recalculer. Les id manquants (insertions annulées) sont inscrits comme trous.

Le délai (60 s par défaut ; --lag ou {LAG_ENV}) doit dépasser la plus longue
transaction qui écrit dans le journal et l'écart d'horloge entre serveurs.
N'écrit rien dans audit_log et n'y prend aucun verrou. À lancer par cron.

Options:
  --lag SECONDES   Délai de sécurité (entier >= 0 ; l'option l'emporte).
  -h, --help       Affiche cette aide sans rien faire."""


_SECONDS = integer(minimum=0)


def _parser() -> argparse.ArgumentParser:
    parser = parser_for("audit:seal")
    parser.add_argument("--lag", action=Once, type=_SECONDS)
    return parser


def _lag(option: int | None) -> int:
    if option is not None:
        return option
    env = os.environ.get(LAG_ENV)
    if env is None or not env.strip():
        return DEFAULT_LAG_SECONDS
    try:
        return _SECONDS(env)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"{LAG_ENV} : {error}") from None


def _run(args: list[str]) -> int:
    if wants_help(args):
        print(_USAGE)
        return 0
    lag = _lag(_parser().parse_args(args).lag)
    if not os.environ.get(KEY_ENV):
        print(
            f"[WARN] {KEY_ENV} absente : scellement en SHA-256 simple. Quiconque peut écrire "
            f"dans la base saurait le recalculer ; définissez {KEY_ENV} (hors de la base) "
            "pour un HMAC."
        )
    result = seal_audit_log(lag_seconds=lag)
    if not result.seals:
        print(f"{INFO} Rien à sceller : aucune entrée nouvelle plus ancienne que le délai.")
    else:
        first, last = result.seals[0], result.seals[-1]
        numbers = f"n°{first}" if first == last else f"n°{first} à {last}"
        gaps = f", {fmt(result.gaps)} id absent(s) inscrit(s) comme trous" if result.gaps else ""
        mode = "SHA-256 simple" if result.mode == MODE_PLAIN else "HMAC-SHA-256"
        print(
            f"{OK} {len(result.seals)} scellement(s) {numbers} ({mode}) : {fmt(result.rows)} "
            f"entrée(s), id {result.first_id} à {result.last_id}{gaps}."
        )
    if result.recent_left:
        print(f"{INFO} Les entrées de moins de {lag} s attendent le prochain scellement.")
    return 0


def main(args: list[str]) -> int:
    """Point d'entrée de `forge audit:seal`."""
    # Le scellement tient dans une transaction : interrompu, rien n'est à moitié écrit.
    return run_command(lambda: _run(args), interrupted=RERUN_AFTER_INTERRUPT)
