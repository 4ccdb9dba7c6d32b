"""Débit d'écriture sur SQLite, dans une transaction : record_audit et
record_audit_many comparés au `db.insert` nu de Forge pour la même ligne.

    PYTHONPATH=src python bench/record_rates.py [--rows 20000] [--big 1000000]

Table neuve, puis table déjà chargée de `--big` lignes (0 pour sauter).
Affiche les débits (lignes/s) et les rapports ; aucun seuil n'est vérifié ici.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROWS_DEFAULT = 20_000


def _setup(path: Path) -> None:
    sqlite3.connect(path).close()
    os.environ["DB_BACKEND"] = "sqlite"
    os.environ["DB_NAME"] = str(path)
    from cli._support.optin_migrations import iter_migration_resources
    from core.database import db
    from core.database.backend import reset_backend
    from core.database.sql_script import split_sql_statements

    reset_backend()
    for _name, content in iter_migration_resources("forge_mvc_audit"):
        for statement in split_sql_statements(content.decode("utf-8")):
            db.execute(statement)


def _fill(path: Path, rows: int) -> None:
    """Charge `rows` lignes variées directement (hors mesure)."""
    conn = sqlite3.connect(path)
    batch = 50_000
    for start in range(0, rows, batch):
        conn.executemany(
            "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                (
                    f"user{i % 977}",
                    f"action.{i % 31}",
                    "note",
                    str(i),
                    "x" * (i % 40),
                    "2026-01-01 00:00:00",
                )
                for i in range(start, min(rows, start + batch))
            ),
        )
    conn.commit()
    conn.close()


def measure(rows: int, *, fresh: bool, repeat: int = 5) -> dict[str, float]:
    """Meilleur débit (lignes/s) de chaque écrivain, passes entrelacées.

    Entrelacer les passes (nu, record_audit, record_audit_many, puis à
    nouveau) répartit sur les trois le bruit d'une machine partagée et la
    croissance de la table. `fresh` vide la table avant chaque passe.
    """
    from core.database import db
    from core.database.transaction import transaction

    from forge_mvc_audit import record_audit, record_audit_many
    from forge_mvc_audit.store import INSERT_SQL, prepare_row

    fields = {
        "action": "note.modifiee",
        "actor": "prof.dupont",
        "target_type": "note",
        "target_id": 7,
        "details": "12 -> 15",
    }
    params = prepare_row("note.modifiee", "prof.dupont", "note", 7, "12 -> 15")

    def bare(n: int) -> None:
        with transaction() as tx:
            for _ in range(n):
                db.insert(INSERT_SQL, params, tx=tx)

    def single(n: int) -> None:
        with transaction() as tx:
            for _ in range(n):
                record_audit(
                    "note.modifiee",
                    actor="prof.dupont",
                    target_type="note",
                    target_id=7,
                    details="12 -> 15",
                    tx=tx,
                )

    def many(n: int) -> None:
        entries = [fields] * n
        with transaction() as tx:
            record_audit_many(entries, tx=tx)

    writers: dict[str, Callable[[int], None]] = {
        "bare": bare,
        "record_audit": single,
        "record_audit_many": many,
    }
    best = dict.fromkeys(writers, 0.0)
    for _ in range(repeat):
        for name, run in writers.items():
            if fresh:
                db.execute("DELETE FROM audit_log")
            start = time.perf_counter()
            run(rows)
            best[name] = max(best[name], rows / (time.perf_counter() - start))
            if not fresh:
                db.execute("DELETE FROM audit_log WHERE id > ?", (_BIG_ROWS[0],))
    return best


# Nombre de lignes de la grande table, pour la remettre en l'état entre deux passes.
_BIG_ROWS = [0]


def _report(label: str, rates: dict[str, float]) -> None:
    bare = rates["bare"]
    print(f"{label}")
    for name, rate in rates.items():
        print(f"  {name:<18} {rate:>10,.0f} lignes/s   x{rate / bare:.2f}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=ROWS_DEFAULT)
    parser.add_argument("--big", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        _setup(path)
        _report("Table neuve", measure(args.rows, fresh=True))
        if args.big:
            from core.database.backend import reset_backend

            reset_backend()
            _fill(path, args.big)
            _BIG_ROWS[0] = args.big
            _report(f"Table de {args.big:,} lignes", measure(args.rows, fresh=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
