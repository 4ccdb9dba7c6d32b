"""Écrire des lignes précises dans le journal des tests (date, request_id, ip choisis)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.database import db
from core.database.transaction import transaction

from forge_mvc_audit.store import INSERT_COLUMNS as COLUMNS


def insert_rows(rows: Iterable[dict[str, object]], chunk: int = 200) -> None:
    """INSERT multi-lignes par paquets, dans une transaction : rapide sur les trois backends."""
    pending: list[Sequence[object]] = []

    def flush(tx: object) -> None:
        if not pending:
            return
        one = "(" + ", ".join("?" for _ in COLUMNS) + ")"
        sql = f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES " + ", ".join(
            one for _ in pending
        )
        db.execute(sql, [value for row in pending for value in row], tx=tx)  # type: ignore[arg-type]
        pending.clear()

    with transaction() as tx:
        for row in rows:
            values = {"action": "test", "created_at": "2026-01-01 00:00:00", **row}
            pending.append([values.get(column) for column in COLUMNS])
            if len(pending) >= chunk:
                flush(tx)
        flush(tx)


def all_ids() -> list[int]:
    return [int(r["id"]) for r in db.fetch_all("SELECT id FROM audit_log ORDER BY id DESC")]
