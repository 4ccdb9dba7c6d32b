"""Une entrée existe si et seulement si le changement qu'elle décrit a eu lieu."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from core.database import db
from core.database.transaction import transaction

from conftest import Backend
from forge_mvc_audit import get_audit_log, record_audit

BUSINESS_TABLE = "audit_test_business"


class _Rollback(Exception):
    """Annule la transaction métier du test."""


@pytest.fixture
def business(audit_db: Backend) -> Iterator[Backend]:
    db.execute(f"DROP TABLE IF EXISTS {BUSINESS_TABLE}")
    db.execute(
        f"CREATE TABLE {BUSINESS_TABLE} (id INTEGER PRIMARY KEY, label VARCHAR(40) NOT NULL)"
    )
    try:
        yield audit_db
    finally:
        db.execute(f"DROP TABLE IF EXISTS {BUSINESS_TABLE}")


def _business_ids() -> set[int]:
    return {int(r["id"]) for r in db.fetch_all(f"SELECT id FROM {BUSINESS_TABLE}")}


def _audited_ids() -> list[int]:
    rows = db.fetch_all("SELECT target_id FROM audit_log WHERE action = ?", ("note.creee",))
    return [int(r["target_id"]) for r in rows]


def test_500_transactions_with_random_rollbacks(business: Backend) -> None:
    rng = random.Random(20261203)
    committed: set[int] = set()
    for i in range(1, 501):
        rollback = rng.random() < 0.35
        # Le point d'annulation varie : avant ou après l'écriture d'audit.
        audit_first = rng.random() < 0.5
        try:
            with transaction() as tx:
                if audit_first:
                    record_audit("note.creee", target_type="note", target_id=i, tx=tx)
                db.insert(
                    f"INSERT INTO {BUSINESS_TABLE} (id, label) VALUES (?, ?)", (i, f"n{i}"), tx=tx
                )
                if not audit_first:
                    record_audit("note.creee", target_type="note", target_id=i, tx=tx)
                if rollback:
                    raise _Rollback
        except _Rollback:
            continue
        committed.add(i)
    assert 250 < len(committed) < 400  # le tirage annule bien une part des transactions
    audited = _audited_ids()
    assert len(audited) == len(set(audited))
    assert set(audited) == committed == _business_ids()


def test_audit_row_is_visible_only_after_commit(business: Backend) -> None:
    with transaction() as tx:
        record_audit("note.creee", target_id=1, tx=tx)
        # Une autre connexion ne voit rien tant que la transaction est ouverte.
        assert get_audit_log() == []
    assert [e.target_id for e in get_audit_log()] == ["1"]


def test_failing_business_write_takes_the_audit_row_with_it(business: Backend) -> None:
    db.insert(f"INSERT INTO {BUSINESS_TABLE} (id, label) VALUES (?, ?)", (1, "déjà là"))
    with pytest.raises(Exception), transaction() as tx:  # noqa: B017 — l'erreur du pilote varie
        record_audit("note.creee", target_id=1, tx=tx)
        db.insert(f"INSERT INTO {BUSINESS_TABLE} (id, label) VALUES (?, ?)", (1, "doublon"), tx=tx)
    assert _audited_ids() == []
