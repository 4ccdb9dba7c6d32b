# pyright: strict
"""`forge audit:verify` : prouve que le journal scellé n'a pas été touché."""

from __future__ import annotations

import argparse

from forge_mvc_audit._chain import KEY_ENV
from forge_mvc_audit.cli._options import (
    OK,
    RERUN_AFTER_INTERRUPT,
    Once,
    integer,
    parser_for,
    run_command,
    wants_help,
)
from forge_mvc_audit.verify import verify_audit_log

_USAGE = f"""\
Usage:
  forge audit:verify [--since-seal N]

Recalcule chaque scellement du journal et leur chaîne, et compare chaque entrée
scellée à son empreinte. Sort en 0 avec une ligne de résumé si tout est
intact ; en 1 avec la liste des anomalies sinon : entrées modifiées,
supprimées, insérées dans une plage scellée (par id), scellements au MAC
invalide (clé erronée ou forgés), chaîne rompue ou réordonnée.

Les purges faites par forge audit:gc sont inscrites dans la chaîne et ne sont
pas des suppressions ; les id absents au scellement (insertions annulées) non
plus. Clé : {KEY_ENV}, la même qu'au scellement.

Options:
  --since-seal N   Part du scellement n°N, tenu pour sûr (vérification partielle).
  -h, --help       Affiche cette aide sans rien faire."""


def _parser() -> argparse.ArgumentParser:
    parser = parser_for("audit:verify")
    parser.add_argument("--since-seal", action=Once, type=integer())
    return parser


def _run(args: list[str]) -> int:
    if wants_help(args):
        print(_USAGE)
        return 0
    report = verify_audit_log(since_seal=_parser().parse_args(args).since_seal)
    if report.weak:
        print(
            "[WARN] Des scellements sont en SHA-256 simple : qui peut écrire dans la base "
            f"saurait les recalculer ({KEY_ENV} absente au scellement)."
        )
    if report.ok:
        print(f"{OK} Journal intact : {report.summary()}")
        return 0
    # Le verdict de la commande, pas une erreur d'exécution : sur stdout, avec la liste.
    problems = report.problems()
    print(f"[ERREUR] Journal altéré : {len(problems)} anomalie(s). {report.summary()}")
    for line in problems:
        print(f"  - {line}")
    return 1


def main(args: list[str]) -> int:
    """Point d'entrée de `forge audit:verify`."""
    return run_command(lambda: _run(args), interrupted=RERUN_AFTER_INTERRUPT)
