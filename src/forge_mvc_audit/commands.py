# pyright: strict
"""Commandes `forge audit:*`, déclarées au cœur par l'entry point `forge_mvc.commands`.

Table légère : le module d'une commande n'est importé qu'à son invocation.
"""

from __future__ import annotations

COMMANDS: dict[str, dict[str, object]] = {
    "audit:init": {"module": "forge_mvc_audit.cli.init"},
    # Ouvrent la base : la config du projet (env/dev) est chargée avant.
    "audit:show": {"module": "forge_mvc_audit.cli.show", "config": True, "native_help": True},
    "audit:export": {"module": "forge_mvc_audit.cli.export", "config": True, "native_help": True},
    "audit:gc": {"module": "forge_mvc_audit.cli.gc", "config": True, "native_help": True},
    "audit:seal": {"module": "forge_mvc_audit.cli.seal", "config": True, "native_help": True},
    "audit:verify": {"module": "forge_mvc_audit.cli.verify", "config": True, "native_help": True},
}
