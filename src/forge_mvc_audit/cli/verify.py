# pyright: strict
"""`forge audit:verify` : prouve que le journal scellé n'a pas été touché."""

from __future__ import annotations

from forge_mvc_audit._chain import KEY_ENV
from forge_mvc_audit.cli._common import parse_options, parse_positive_int, run_guarded
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


def _run(args: list[str]) -> int:
    options = parse_options(args, "audit:verify", valued={"--since-seal"}, flags=set())
    since = options.get("--since-seal")
    report = verify_audit_log(
        since_seal=parse_positive_int(since, "--since-seal") if isinstance(since, str) else None
    )
    if report.weak:
        print(
            "[WARN] Des scellements sont en SHA-256 simple : qui peut écrire dans la base "
            f"saurait les recalculer ({KEY_ENV} absente au scellement)."
        )
    if report.ok:
        print(f"[OK] Journal intact : {report.summary()}")
        return 0
    problems = report.problems()
    print(f"[ERREUR] Journal altéré : {len(problems)} anomalie(s). {report.summary()}")
    for line in problems:
        print(f"  - {line}")
    return 1


def main(args: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in args):
        print(_USAGE)
        return 0
    return run_guarded(lambda: _run(args))
