"""Temps serveur de la page du journal sur 1 000 000 d'entrées SQLite.

    PYTHONPATH=src python bench/journal_page.py [--rows 1000000] [--db bench/data/journal.db]

Construit la base une fois (sqlite3 brut, executemany, migrations du paquet),
puis mesure, par le vrai callable WSGI de Forge (routeur, session, garde,
rendu Jinja), chaque page filtrée : médiane et maximum sur quelques appels.
Objectif de l'issue : une page filtrée servie en 50 ms au plus. Aucun test
n'en dépend (machine partagée, mesures bruitées).
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def build(path: Path, rows: int) -> None:
    """La table migrée et `rows` entrées réalistes, en une transaction."""
    if path.exists():
        with sqlite3.connect(path) as conn:
            if conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == rows + 1:
                return
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    for sql in sorted((ROOT / "migrations" / "sqlite").glob("*.sql")):
        conn.executescript(sql.read_text(encoding="utf-8"))
    rng = random.Random(7)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    actions = [f"objet{i}.action{j}" for i in range(5) for j in range(4)]
    types = ["note", "eleve", "classe", "absence", "compte", "document", "sortie", "menu"]

    def row(i: int) -> tuple[object, ...]:
        moment = start + timedelta(seconds=i * 60)  # ~ 2 ans pour 1 M
        return (
            f"prof.{rng.randrange(2000)}",
            rng.choice(actions),
            rng.choice(types),
            str(rng.randrange(50_000)),
            '{"note": [12, 15]}' if i % 3 == 0 else "modification courante",
            moment.strftime("%Y-%m-%d %H:%M:%S"),
            f"req-{i // 4}",
            "192.0.2.1",
        )

    sql = (
        "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at, "
        "request_id, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    conn.executemany(sql, (row(i) for i in range(rows)))
    conn.execute(
        sql,
        (
            "inspecteur.rare",
            "note.consultee",
            "note",
            "42",
            None,
            "2026-06-01 10:00:00",
            "req-rare",
            None,
        ),
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "data" / "journal.db")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    t0 = time.perf_counter()
    build(args.db, args.rows)
    print(f"[INFO] base prête ({args.db}, {time.perf_counter() - t0:.1f} s)")

    os.environ.update({"DB_BACKEND": "sqlite", "DB_NAME": str(args.db)})
    import core.forge as forge
    from forge_mvc_testing import ForgeTestClient, login_as

    from web_app import build_app, create_users, make_views

    forge.configure(app_name="Bench", app_env="prod")
    create_users()
    client = ForgeTestClient(build_app(make_views(Path(tempfile.mkdtemp()))))
    login_as(client, 1)
    cases = {
        "sans filtre": {},
        "acteur (~500 entrées)": {"actor": "prof.1234"},
        "acteur rare": {"actor": "inspecteur.rare"},
        "acteur absent": {"actor": "personne"},
        "action (~50 000)": {"action": "objet3.action2"},
        "type de cible (~125 000)": {"target_type": "eleve"},
        "cible type+id": {"target_type": "note", "target_id": "4242"},
        "requête": {"request_id": "req-1000"},
        "un jour": {"since": "2025-06-01", "until": "2025-06-01"},
        "acteur + un mois": {"actor": "prof.1234", "since": "2025-03-01", "until": "2025-03-31"},
        "action + un an": {
            "action": "objet1.action1",
            "since": "2025-01-01",
            "until": "2025-12-31",
        },
        "type de cible + un an": {
            "target_type": "eleve",
            "since": "2025-01-01",
            "until": "2025-12-31",
        },
        "un an, sans autre filtre": {"since": "2025-01-01", "until": "2025-12-31"},
        "depuis six mois (récent)": {"since": "2026-05-01"},
        "page profonde (before)": {"before": "500000"},
        "retour (after)": {"after": "500000"},
        "acteur, page suivante": {"actor": "prof.1234", "before": "600000"},
    }
    print(f"{'page':<28} {'médiane':>9} {'max':>9}  (ms, temps serveur WSGI)")
    worst = 0.0
    for label, query in cases.items():
        timings: list[float] = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            response = client.get("/admin/audit", query=query)
            timings.append((time.perf_counter() - t) * 1000)
            assert response.status == 200, (label, response.status)
        median = statistics.median(timings)
        worst = max(worst, median)
        print(f"{label:<28} {median:9.1f} {max(timings):9.1f}")
    print(f"[{'OK' if worst <= 50 else 'WARN'}] pire médiane : {worst:.1f} ms (objectif 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
