"""Régénère migrations/<backend>/*.sql : exactement ce que `forge audit:init` écrirait.

Usage : python scripts/render_migrations.py [--check]
Avec --check, n'écrit rien et sort en 1 si un fichier versionné diffère.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from cli._support.optin_migrations import iter_migration_resources
from core.database.backend import reset_backend

from forge_mvc_audit.tables import BACKENDS

ROOT = Path(__file__).resolve().parent.parent / "migrations"


def rendered(backend: str) -> dict[str, bytes]:
    """Les migrations rendues par le mécanisme d'opt-in de Forge pour `backend`."""
    previous = os.environ.get("DB_BACKEND")
    os.environ["DB_BACKEND"] = backend
    reset_backend()
    try:
        return dict(iter_migration_resources("forge_mvc_audit"))
    finally:
        if previous is None:
            os.environ.pop("DB_BACKEND", None)
        else:
            os.environ["DB_BACKEND"] = previous
        reset_backend()


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale: list[str] = []
    for backend in BACKENDS:
        for name, content in rendered(backend).items():
            path = ROOT / backend / name
            if path.exists() and path.read_bytes() == content:
                continue
            stale.append(str(path.relative_to(ROOT.parent)))
            if not check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
    for name in stale:
        print(("[ERREUR] diffère : " if check else "[OK] écrit : ") + name)
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
