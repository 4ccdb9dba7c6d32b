"""Remplir vite un journal de test : INSERT multi-lignes, horodatages choisis."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.database import db
from core.database.transaction import transaction

from forge_mvc_audit.store import INSERT_COLUMNS

_PER_STATEMENT = 100
KEY = "clé-de-test-assez-longue-0123456789"


def seed(count: int, *, start: str = "2026-01-01 00:00:00", step: float = 1.0) -> None:
    """`count` entrées variées (NULL, texte vide, accents), une toutes les `step` s."""
    origin = datetime.strptime(start, "%Y-%m-%d %H:%M:%S")
    rows: list[tuple[object, ...]] = []
    for i in range(count):
        stamp = (origin + timedelta(seconds=int(i * step))).strftime("%Y-%m-%d %H:%M:%S")
        rows.append(
            (
                None if i % 7 == 0 else f"user{i % 13}",
                f"action.{i % 5}",
                "note" if i % 3 else None,
                str(i) if i % 4 else "",
                None if i % 5 == 0 else f'{{"n": {i}, "texte": "é{i}"}}',
                stamp,
                f"req-{i}" if i % 2 else None,
                "127.0.0.1" if i % 6 == 0 else None,
            )
        )
    marks = "(" + ", ".join("?" for _ in INSERT_COLUMNS) + ")"
    with transaction() as tx:
        for at in range(0, len(rows), _PER_STATEMENT):
            chunk = rows[at : at + _PER_STATEMENT]
            sql = (
                f"INSERT INTO audit_log ({', '.join(INSERT_COLUMNS)}) VALUES "
                + ", ".join(marks for _ in chunk)
            )
            db.execute(sql, [value for row in chunk for value in row], tx=tx)


def ids() -> list[int]:
    return [int(r["id"]) for r in db.fetch_all("SELECT id FROM audit_log ORDER BY id")]
