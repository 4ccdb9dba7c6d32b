# pyright: strict
# Le paquet `cli` de Forge ne livre pas de py.typed ; ses annotations suffisent.
# pyright: reportMissingTypeStubs=false
"""`forge audit:init` : écrit les migrations du journal dans `mvc/migrations/`.

Le rendu pour le backend actif et la copie idempotente (identique : [OK],
différent : [WARN] sans rien toucher) sont ceux du mécanisme d'opt-in de Forge.
"""

from __future__ import annotations

from pathlib import Path

from cli._support.optin_migrations import STATUS_ERROR, init_optin_migrations

from forge_mvc_audit.cli import shown

_USAGE = """\
Usage:
  forge audit:init

Écrit les migrations de la table audit_log, rendues pour le backend BDD du
projet, dans mvc/migrations/. N'exécute aucun SQL : relisez-les, puis lancez
forge migration:apply.

Un fichier déjà présent et identique est signalé [OK] ; un fichier présent
mais différent n'est jamais écrasé ([WARN]).

Options:
  -h, --help    Affiche cette aide sans rien écrire."""


def main(args: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in args):
        print(_USAGE)
        return 0
    if args:
        print(
            f"{STATUS_ERROR} Argument inattendu : {shown(args[0])} "
            "(audit:init ne prend pas d'option)."
        )
        return 2
    return init_optin_migrations("forge_mvc_audit", "Audit", Path.cwd())
