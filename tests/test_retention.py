"""Rétention : borne, comptage, purge par lots, accord avec les scellements."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from core.database import db

from conftest import Backend
from forge_mvc_audit import (
    AuditError,
    count_audit_before,
    cutoff_for_days,
    get_audit_log,
    purge_audit_before,
    record_audit,
    seal_audit_log,
    verify_audit_log,
)
from forge_mvc_audit.retention import plan_purge
from journal_helpers import KEY, ids, seed

LATER = datetime(2027, 1, 1, tzinfo=UTC)
# seed(5000) : une entrée par seconde depuis 2026-01-01 00:00:00 ; à 01:00:00,
# les id 1 à 3600 sont anciens. Scellements : 1-2048, 2049-4096, 4097-5000.
CUTOFF = "2026-01-01 01:00:00"


@pytest.mark.fast
def test_cutoff_for_days_is_utc_in_journal_format() -> None:
    now = datetime(2026, 3, 31, 12, 30, 5, tzinfo=UTC)
    assert cutoff_for_days(30, now=now) == "2026-03-01 12:30:05"
    assert len(cutoff_for_days(1)) == 19


@pytest.mark.fast
@pytest.mark.parametrize("days", [0, -1, True, "90", 1.5, None, 10**12])
def test_cutoff_for_days_refuses_what_is_not_a_retention(days: object) -> None:
    with pytest.raises(AuditError, match="keep_days"):
        cutoff_for_days(days)  # pyright: ignore[reportArgumentType]


@pytest.mark.fast
@pytest.mark.parametrize(
    "cutoff", ["2026-01-01", "2026-1-01 00:00:00", "demain", "", "2026-01-01T00:00:00", 5, None]
)
def test_unreadable_cutoff_is_refused_before_any_sql(cutoff: object) -> None:
    for call in (count_audit_before, purge_audit_before, plan_purge):
        with pytest.raises(AuditError, match="Borne de purge illisible"):
            call(cutoff)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("size", [0, -5, "10", True, 2.0])
def test_bad_batch_size_is_refused(audit_db: Backend, size: object) -> None:
    seed(10)
    with pytest.raises(AuditError, match="batch_size"):
        purge_audit_before("2030-01-01 00:00:00", batch_size=size)  # pyright: ignore[reportArgumentType]
    assert len(ids()) == 10


def test_count_and_plain_purge_by_batches(audit_db: Backend) -> None:
    seed(1000)
    cutoff = "2026-01-01 00:10:00"  # 600 entrées anciennes
    assert count_audit_before(cutoff) == 600
    assert count_audit_before(datetime(2026, 1, 1, 0, 10, tzinfo=UTC)) == 600
    plan = plan_purge(cutoff)
    assert (plan.old, plan.to_delete, plan.sealed) == (600, 600, False)
    assert len(ids()) == 1000
    seen: list[int] = []
    assert purge_audit_before(cutoff, batch_size=97, progress=seen.append) == 600
    assert seen == [*range(97, 600, 97), 600]
    assert ids() == list(range(601, 1001))
    assert count_audit_before(cutoff) == 0
    assert purge_audit_before(cutoff) == 0


def test_plain_purge_with_created_at_out_of_id_order(audit_db: Backend) -> None:
    """Entrées antidatées éparses (import) : seules celles d'avant la borne partent."""
    seed(1000, start="2026-06-01 00:00:00")
    old = list(range(5, 1000, 37))
    for row_id in old:
        db.execute(
            "UPDATE audit_log SET created_at = ? WHERE id = ?", ["2025-01-01 00:00:00", row_id]
        )
    db.execute("UPDATE audit_log SET created_at = ? WHERE id = ?", ["2025-06-01 00:00:00", 600])
    assert purge_audit_before("2026-01-01 00:00:00", batch_size=4) == len(old) + 1
    assert set(range(1, 1001)) - set(ids()) == {*old, 600}


def test_sealed_purge_takes_whole_segments_and_verify_stays_green(audit_db: Backend) -> None:
    seed(5000)
    seal_audit_log(key=KEY, now=LATER)
    plan = plan_purge(CUTOFF)
    assert (plan.old, plan.sealed, plan.boundary, plan.boundary_seq) == (3600, True, 2048, 1)
    assert (plan.to_delete, plan.kept_old) == (2048, 1552)
    assert purge_audit_before(CUTOFF, batch_size=500, key=KEY) == 2048
    assert ids()[0] == 2049
    purge = db.fetch_one("SELECT * FROM audit_seal WHERE kind = 'purge'")
    assert (purge["seq"], purge["first_id"], purge["last_id"], purge["row_count"]) == (
        4, 1, 2048, 2048,
    )
    report = verify_audit_log(key=KEY)
    assert report.ok, report.problems()
    assert report.purged_up_to == 2048 and report.rows == 2952
    # Une seconde purge à la même borne ne réinscrit rien.
    assert purge_audit_before(CUTOFF, key=KEY) == 0
    assert db.fetch_one("SELECT COUNT(*) AS n FROM audit_seal")["n"] == 4
    # Toute autre suppression reste une suppression.
    db.execute("DELETE FROM audit_log WHERE id = ?", [2049])
    assert verify_audit_log(key=KEY).deleted == [(2049, 2049)]


def test_purge_record_is_chained_and_keyed(audit_db: Backend) -> None:
    seed(5000)
    seal_audit_log(key=KEY, now=LATER)
    purge_audit_before(CUTOFF, key=KEY)
    db.execute("UPDATE audit_seal SET last_id = ? WHERE kind = 'purge'", [4096])
    report = verify_audit_log(key=KEY)
    assert not report.ok and report.bad_mac == [4]


def test_purge_of_an_hmac_chain_needs_the_key(
    audit_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIT_SEAL_KEY", raising=False)
    seed(3000)
    seal_audit_log(key=KEY, now=LATER)
    with pytest.raises(AuditError, match="AUDIT_SEAL_KEY"):
        purge_audit_before(CUTOFF)
    assert len(ids()) == 3000


def test_nothing_goes_when_no_segment_is_entirely_old(audit_db: Backend) -> None:
    seed(1000)
    seal_audit_log(key=KEY, now=LATER)
    plan = plan_purge("2026-01-01 00:05:00")
    assert (plan.old, plan.to_delete, plan.boundary, plan.kept_old) == (300, 0, None, 300)
    assert purge_audit_before("2026-01-01 00:05:00", key=KEY) == 0
    assert len(ids()) == 1000


def test_interrupted_purge_verifies_and_a_rerun_finishes(audit_db: Backend) -> None:
    seed(5000)
    seal_audit_log(key=KEY, now=LATER)

    def stop_after_first_batch(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        purge_audit_before(CUTOFF, batch_size=300, key=KEY, progress=stop_after_first_batch)
    assert ids()[0] == 301
    assert verify_audit_log(key=KEY).ok
    # Une entrée restée dans la plage purgée est toujours protégée.
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", ["falsifié", 400])
    assert verify_audit_log(key=KEY).modified == [400]
    assert purge_audit_before(CUTOFF, key=KEY) == 1748
    assert ids()[0] == 2049
    assert verify_audit_log(key=KEY).ok


_KILL_SCRIPT = """
import sys, time
from forge_mvc_audit import purge_audit_before

def progress(done):
    print(done, flush=True)
    time.sleep(0.2)

purge_audit_before(sys.argv[1], batch_size=100, key=sys.argv[2], progress=progress)
print("fini", flush=True)
"""


def test_purge_killed_mid_way_leaves_a_verifiable_journal(audit_db: Backend) -> None:
    seed(5000)
    seal_audit_log(key=KEY, now=LATER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env.update(audit_db.env)
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, CUTOFF, KEY],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert first == "100", proc.stderr.read() if proc.stderr else ""
    left = ids()
    assert 1 < left[0] <= 2049 and left[-1] == 5000
    report = verify_audit_log(key=KEY)
    assert report.ok, report.problems()
    assert purge_audit_before(CUTOFF, key=KEY) == 2049 - left[0]
    assert ids()[0] == 2049
    assert verify_audit_log(key=KEY).ok


def test_a_batch_is_split_into_short_statements(audit_db: Backend) -> None:
    seed(2600)
    seen: list[int] = []
    assert purge_audit_before("2026-01-01 00:40:00", batch_size=2500, progress=seen.append) == 2400
    assert seen == [2400] and ids()[0] == 2401
    seal_audit_log(key=KEY, now=LATER)  # 2401-2600 : un seul segment
    seed(2500, start="2026-01-01 01:00:00")
    seal_audit_log(key=KEY, now=LATER)
    seen.clear()
    assert purge_audit_before("2026-02-01 00:00:00", batch_size=2100, key=KEY,
                              progress=seen.append) == 2700
    assert seen == [2100, 2700] and ids() == []
    assert verify_audit_log(key=KEY).ok


def test_a_delete_silently_ignored_stops_the_purge(audit_db: Backend) -> None:
    if audit_db.name != "sqlite":
        pytest.skip("RAISE(IGNORE) : déclencheur SQLite")
    seed(3000)
    seal_audit_log(key=KEY, now=LATER)
    db.execute(
        "CREATE TRIGGER ignore_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(IGNORE); END"
    )
    try:
        with pytest.raises(AuditError, match="rien supprimé"):
            purge_audit_before(CUTOFF, key=KEY)
    finally:
        db.execute("DROP TRIGGER ignore_delete")
    assert len(ids()) == 3000 and verify_audit_log(key=KEY).ok


@pytest.mark.parametrize("sealed", [False, True])
def test_purge_and_concurrent_writers_both_succeed(audit_db: Backend, sealed: bool) -> None:
    """Un record_audit concurrent ne fait échouer ni la purge ni lui-même."""
    import threading

    from forge_mvc_audit import record_audit

    seed(6000)
    if sealed:
        seal_audit_log(key=KEY, now=LATER)
    stop = threading.Event()
    errors: list[BaseException] = []
    written: list[int] = []

    def writer() -> None:
        while not stop.is_set():
            try:
                written.append(record_audit("pendant.la.purge"))
            except BaseException as error:  # remonté au test
                errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deleted = purge_audit_before(CUTOFF, batch_size=150, key=KEY)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    assert deleted == (2048 if sealed else 3600) and written
    assert ids()[-len(written):] == written
    if sealed:
        assert verify_audit_log(key=KEY).ok


def test_a_cutoff_before_year_1000_is_compared_as_a_date(audit_db: Backend) -> None:
    """L'an 99 s'écrit « 0099 » ; écrit « 99-… », SQLite le placerait après 2026."""
    record_audit("recent")
    assert cutoff_for_days(700_000, now=datetime(2026, 1, 1)) == "0109-06-20 00:00:00"
    assert count_audit_before(datetime(99, 6, 2)) == 0
    assert purge_audit_before(datetime(99, 6, 2, 19, 59, 54, 145)) == 0
    assert purge_audit_before(cutoff_for_days(700_000)) == 0
    assert [e.action for e in get_audit_log()] == ["recent"]
