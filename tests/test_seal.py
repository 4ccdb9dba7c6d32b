"""Scellement et vérification : chaque falsification trouvée, au bon endroit.

Sur les trois backends réels. Un journal de 5 000 entrées fait trois
scellements (2 048 + 2 048 + 904) : de quoi altérer le milieu d'une chaîne.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from core.database import db
from core.database.transaction import transaction

from conftest import Backend
from forge_mvc_audit import (
    AuditError,
    VerifyReport,
    record_audit,
    seal_audit_log,
    verify_audit_log,
)
from forge_mvc_audit._chain import (
    MODE_HMAC,
    MODE_PLAIN,
    Seal,
    chain_head,
    compute_mac,
    decode_gaps,
    encode_gaps,
    insert_seals,
)
from journal_helpers import KEY, ids, seed

LATER = datetime(2027, 1, 1, tzinfo=UTC)


def _sealed(count: int = 5000, *, key: str | None = KEY, holes: tuple[int, ...] = ()) -> None:
    seed(count)
    for hole in holes:
        db.execute("DELETE FROM audit_log WHERE id = ?", [hole])
    result = seal_audit_log(key=key, now=LATER)
    assert result.rows == count - len(holes)


def _only(report: VerifyReport, **expected: object) -> None:
    """Le rapport ne contient que les anomalies attendues."""
    fields = ("modified", "deleted", "inserted", "bad_mac", "broken_chain")
    for name in fields:
        assert getattr(report, name) == expected.get(name, []), (name, report.problems())
    assert not report.ok


def test_clean_journal_verifies(audit_db: Backend) -> None:
    _sealed(holes=(17, 18, 2049, 4999))
    report = verify_audit_log(key=KEY)
    assert report.ok, report.problems()
    assert (report.seals, report.rows, report.unsealed) == (3, 4996, 0)
    assert not report.weak
    assert report.summary().startswith("3 scellement(s) n°1 à 3")


def test_seal_records_range_count_gaps_and_chain(audit_db: Backend) -> None:
    _sealed(holes=(1, 30, 31))
    rows = db.fetch_all("SELECT * FROM audit_seal ORDER BY seq")
    assert [(r["seq"], r["kind"], r["first_id"], r["last_id"], r["row_count"]) for r in rows] == [
        (1, "seal", 1, 2051, 2048),
        (2, "seal", 2052, 4099, 2048),
        (3, "seal", 4100, 5000, 901),
    ]
    assert decode_gaps(1, rows[0]["gaps"]) == [(1, 1), (30, 31)]
    assert rows[1]["gaps"] is None
    assert rows[0]["prev_mac"] is None
    assert rows[1]["prev_mac"] == rows[0]["mac"] and rows[2]["prev_mac"] == rows[1]["mac"]
    assert {r["mode"] for r in rows} == {MODE_HMAC}
    assert all(KEY not in str(r.values()) for r in rows)
    assert rows[0]["max_created"] == "2026-01-01 00:34:10"


def test_sealing_again_only_adds_new_entries(audit_db: Backend) -> None:
    _sealed(100)
    assert seal_audit_log(key=KEY, now=LATER).seals == ()
    seed(10, start="2026-02-01 00:00:00")
    again = seal_audit_log(key=KEY, now=LATER)
    assert (again.seals, again.first_id, again.last_id, again.rows) == ((2,), 101, 110, 10)
    assert verify_audit_log(key=KEY).ok


def test_lag_keeps_recent_entries_for_later(audit_db: Backend) -> None:
    seed(10, start="2026-01-01 00:00:00", step=60)
    # Un `now` naïf est lu comme UTC.
    now = datetime(2026, 1, 1, 0, 6, 0)
    result = seal_audit_log(key=KEY, now=now, lag_seconds=120)
    assert (result.last_id, result.recent_left) == (4, True)
    report = verify_audit_log(key=KEY)
    assert report.ok and report.unsealed == 6


def _update_details() -> None:
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", ['{"n": 0}', 2500])


def _change_created_at() -> None:
    db.execute("UPDATE audit_log SET created_at = ? WHERE id = ?", ["2025-12-31 23:59:59", 10])


def _null_to_empty() -> None:
    # id 7 : actor NULL ; la même valeur vide n'est pas la même entrée.
    db.execute("UPDATE audit_log SET actor = ? WHERE id = ?", ["", 7])


def _delete_rows() -> None:
    db.execute("DELETE FROM audit_log WHERE id IN (?, ?, ?)", [3000, 3001, 4500])


def test_update_details_is_reported_at_its_id(audit_db: Backend) -> None:
    _sealed()
    _update_details()
    _only(verify_audit_log(key=KEY), modified=[2500])


def test_changed_created_at_is_reported_at_its_id(audit_db: Backend) -> None:
    _sealed()
    _change_created_at()
    _only(verify_audit_log(key=KEY), modified=[10])


def test_null_made_empty_is_a_modification(audit_db: Backend) -> None:
    _sealed()
    _null_to_empty()
    _only(verify_audit_log(key=KEY), modified=[7])


def test_deleted_rows_are_reported_by_id(audit_db: Backend) -> None:
    _sealed()
    _delete_rows()
    report = verify_audit_log(key=KEY)
    _only(report, deleted=[(3000, 3001), (4500, 4500)])
    assert report.deleted_ids == [3000, 3001, 4500]
    assert "Entrées supprimées (id) : 3000-3001, 4500" in report.problems()


def test_forged_row_inserted_into_a_sealed_gap(audit_db: Backend) -> None:
    _sealed(holes=(1234,))
    db.execute(
        "INSERT INTO audit_log (id, action, created_at) VALUES (?, ?, ?)",
        [1234, "forged", "2026-01-01 00:20:33"],
    )
    _only(verify_audit_log(key=KEY), inserted=[1234])


def test_forged_row_below_the_first_sealed_id(audit_db: Backend) -> None:
    if audit_db.name == "mariadb":
        pytest.skip("BIGINT UNSIGNED AUTO_INCREMENT : un id <= 0 ne peut pas s'écrire")
    _sealed(200)
    db.execute(
        "INSERT INTO audit_log (id, action, created_at) VALUES (?, ?, ?)",
        [0, "forged", "2025-01-01 00:00:00"],
    )
    _only(verify_audit_log(key=KEY), inserted=[0])


def test_edited_seal_digest_is_a_bad_mac(audit_db: Backend) -> None:
    _sealed()
    db.execute("UPDATE audit_seal SET digest = ? WHERE seq = ?", ["0" * 64, 2])
    report = verify_audit_log(key=KEY)
    _only(report, bad_mac=[2])
    assert [seq for seq, _ in report.seal_errors] == [2]


def test_edited_seal_range_is_a_bad_mac(audit_db: Backend) -> None:
    """Élargir les trous d'un scellement pour y cacher une suppression ne passe pas."""
    _sealed()
    db.execute("DELETE FROM audit_log WHERE id = ?", [100])
    db.execute("UPDATE audit_seal SET gaps = ? WHERE seq = 1", [encode_gaps(1, [(100, 100)])])
    report = verify_audit_log(key=KEY)
    assert report.bad_mac == [1] and not report.ok


def test_swapped_seals_break_the_chain(audit_db: Backend) -> None:
    _sealed()
    with transaction() as tx:
        db.execute("UPDATE audit_seal SET seq = ? WHERE seq = ?", [-1, 1], tx=tx)
        db.execute("UPDATE audit_seal SET seq = ? WHERE seq = ?", [1, 2], tx=tx)
        db.execute("UPDATE audit_seal SET seq = ? WHERE seq = ?", [2, -1], tx=tx)
    report = verify_audit_log(key=KEY)
    assert report.bad_mac == [1, 2]
    assert report.broken_chain == [1, 2, 3]
    assert (report.modified, report.deleted, report.inserted) == ([], [], [])


def test_deleted_seal_breaks_the_chain(audit_db: Backend) -> None:
    _sealed()
    db.execute("DELETE FROM audit_seal WHERE seq = ?", [2])
    report = verify_audit_log(key=KEY)
    assert report.broken_chain == [3] and report.bad_mac == []
    assert any("commence à l'id 4097" in m for _, m in report.seal_errors)


def test_wrong_key_fails_every_seal(audit_db: Backend) -> None:
    _sealed()
    report = verify_audit_log(key="une-autre-clé-de-même-longueur-000")
    _only(report, bad_mac=[1, 2, 3])


def test_hmac_chain_without_key_cannot_pass(
    audit_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIT_SEAL_KEY", raising=False)
    _sealed(300)
    report = verify_audit_log()
    assert report.missing_key and not report.ok
    assert "AUDIT_SEAL_KEY" in report.problems()[0]
    with pytest.raises(AuditError, match="AUDIT_SEAL_KEY"):
        seal_audit_log(now=LATER)


def test_key_comes_from_the_environment(audit_db: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIT_SEAL_KEY", KEY)
    _sealed(300, key=None)
    assert verify_audit_log(key=KEY).ok
    monkeypatch.setenv("AUDIT_SEAL_KEY", KEY + "x")
    assert verify_audit_log().bad_mac == [1]


def test_without_key_seals_are_plain_and_still_catch_edits(
    audit_db: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AUDIT_SEAL_KEY", raising=False)
    _sealed(3000, key=None)
    assert {r["mode"] for r in db.fetch_all("SELECT mode FROM audit_seal")} == {MODE_PLAIN}
    clean = verify_audit_log()
    assert clean.ok and clean.weak
    assert db.execute("UPDATE audit_log SET action = ? WHERE id = ?", ["x", 2999]) == 1
    _only(verify_audit_log(), modified=[2999])


def test_plain_seal_after_hmac_is_a_downgrade(audit_db: Backend) -> None:
    """Qui n'a pas la clé peut chaîner un maillon SHA-256 simple : il est refusé."""
    _sealed(100)
    seed(5, start="2026-03-01 00:00:00")
    head, _end = chain_head()
    assert head is not None
    forged = Seal(
        seq=2, kind="seal", first_id=101, last_id=105, row_count=5, gaps=None,
        fingerprints="0" * 80, max_created="2026-03-01 00:00:04", digest="0" * 64,
        prev_mac=head.mac, mode=MODE_PLAIN, mac="", created_at="2026-03-02 00:00:00",
    )
    insert_seals([replace(forged, mac=compute_mac(forged, None))])
    report = verify_audit_log(key=KEY)
    assert not report.ok and report.broken_chain == [] and report.bad_mac == []
    assert report.seal_errors[0][0] == 2 and "dégradé" in report.seal_errors[0][1]


def test_plain_then_hmac_is_an_upgrade(audit_db: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUDIT_SEAL_KEY", raising=False)
    _sealed(100, key=None)
    seed(5, start="2026-03-01 00:00:00")
    assert seal_audit_log(key=KEY, now=LATER).mode == MODE_HMAC
    report = verify_audit_log(key=KEY)
    assert report.ok and report.weak


def test_since_seal_starts_from_a_trusted_seal(audit_db: Backend) -> None:
    _sealed()
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", ["x", 5])
    db.execute("UPDATE audit_log SET details = ? WHERE id = ?", ["x", 4097])
    full = verify_audit_log(key=KEY)
    assert full.modified == [5, 4097]
    partial = verify_audit_log(key=KEY, since_seal=3)
    assert partial.modified == [4097] and partial.seals == 1
    assert partial.broken_chain == []
    with pytest.raises(AuditError, match="n°9"):
        verify_audit_log(key=KEY, since_seal=9)
    for bad in (0, -1, "2", True):
        with pytest.raises(AuditError, match="since_seal"):
            verify_audit_log(key=KEY, since_seal=bad)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("lag", [-1, "60", 1.5, None, True])
def test_bad_lag_is_refused(audit_db: Backend, lag: object) -> None:
    seed(3)
    with pytest.raises(AuditError, match="délai"):
        seal_audit_log(lag_seconds=lag, key=KEY)  # pyright: ignore[reportArgumentType]
    assert db.fetch_one("SELECT COUNT(*) AS n FROM audit_seal")["n"] == 0


def test_rolled_back_inserts_are_gaps_not_deletions(audit_db: Backend) -> None:
    seed(50)
    for i in range(5):
        try:
            with transaction() as tx:
                record_audit("annulee", actor=f"a{i}", tx=tx)
                raise RuntimeError("rollback")
        except RuntimeError:
            pass
        seed(3, start="2026-01-02 00:00:00")
    result = seal_audit_log(key=KEY, now=LATER)
    assert result.rows == 65
    if audit_db.name != "sqlite":
        # Serveurs : l'id consommé par l'INSERT annulé n'est jamais rendu.
        assert result.gaps == 5
    assert verify_audit_log(key=KEY).ok


@pytest.mark.parametrize("rows", [20_000, pytest.param(100_000, marks=pytest.mark.slow)])
def test_no_false_positive_with_concurrent_writers(audit_db: Backend, rows: int) -> None:
    """Des écrivains écrivent (et annulent) pendant que l'on scelle : aucune fausse alerte."""
    seed(rows, start="2026-01-01 00:00:00", step=0.05)
    # Des trous déjà là avant le premier scellement, en plus des annulations.
    db.execute("DELETE FROM audit_log WHERE id IN (?, ?, ?)", [2, 5000, rows - 1])
    stop = threading.Event()
    errors: list[BaseException] = []
    written = [0]

    def writer(n: int) -> None:
        try:
            while not stop.is_set():
                if written[0] % 9 == n:
                    try:
                        with transaction() as tx:
                            record_audit("ecrit.puis.annule", actor=f"w{n}", tx=tx)
                            raise RuntimeError("rollback")
                    except RuntimeError:
                        pass
                record_audit("ecrit.en.parallele", actor=f"w{n}", details=f"{n}")
                written[0] += 1
                time.sleep(0.002)
        except BaseException as error:  # remonté au test
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            seal_audit_log(key=KEY, lag_seconds=1)
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors, errors
    assert written[0] > 50
    time.sleep(2.1)
    final = seal_audit_log(key=KEY, lag_seconds=1)
    assert final.recent_left is False
    report = verify_audit_log(key=KEY)
    assert report.ok, report.problems()
    assert report.unsealed == 0
    assert report.rows == rows - 3 + written[0]
    assert ids()[-1] == report.rows + sum(
        b - a + 1
        for r in db.fetch_all("SELECT first_id, gaps FROM audit_seal")
        for a, b in decode_gaps(int(r["first_id"]), r["gaps"])
    )


def test_a_concurrent_sealer_cannot_fork_the_chain(audit_db: Backend) -> None:
    seed(100)
    from forge_mvc_audit import _chain

    real = _chain.chain_head
    calls = [0]

    def stale_head(db_handle: object = None, **kw: object) -> object:
        head = real(db_handle, **kw)  # pyright: ignore[reportArgumentType]
        if calls[0] == 0:
            calls[0] += 1
            # Un autre scelleur passe entre la lecture de la tête et l'écriture.
            seal_audit_log(key=KEY, now=LATER)
        return head

    import forge_mvc_audit.seal as seal_module

    seal_module.chain_head = stale_head  # pyright: ignore[reportAttributeAccessIssue]
    try:
        with pytest.raises(AuditError, match="relancez"):
            seal_audit_log(key=KEY, now=LATER)
    finally:
        seal_module.chain_head = real
    assert [r["seq"] for r in db.fetch_all("SELECT seq FROM audit_seal")] == [1]
    assert verify_audit_log(key=KEY).ok


@pytest.mark.fast
def test_gaps_encoding_round_trips() -> None:
    gaps = [(5, 5), (7, 9), (10_000_000_000, 10_000_000_004)]
    text = encode_gaps(3, gaps)
    assert text == "[[2,1],[1,3],[9999999990,5]]"
    assert decode_gaps(3, text) == gaps
    assert encode_gaps(3, []) is None and decode_gaps(3, None) == []
    for bad in ("{}", "[[1]]", "[[-1,1]]", "[[0,0]]", '[["a",1]]', "nope"):
        with pytest.raises(ValueError):
            decode_gaps(1, bad)


def test_empty_journal_has_nothing_to_seal(audit_db: Backend) -> None:
    result = seal_audit_log(key=KEY)
    assert result.seals == () and result.rows == 0
    report = verify_audit_log(key=KEY)
    assert report.ok and report.seals == 0
    assert "rien à vérifier" in report.summary()



@pytest.mark.fast
def test_row_encoding_is_the_compact_json_array_of_the_nine_columns() -> None:
    import hashlib
    import json

    from forge_mvc_audit._chain import row_hash

    row = {
        "id": 7, "actor": None, "action": 'a"b\\c', "target_type": "", "target_id": "é\n",
        "details": "\x01😀", "created_at": datetime(2026, 1, 2, 3, 4, 5),
        "request_id": None, "ip": "::1",
    }
    values = [7, None, 'a"b\\c', "", "é\n", "\x01😀", "2026-01-02 03:04:05", None, "::1"]
    expected = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    assert row_hash(row) == hashlib.sha256(expected.encode()).digest()
    assert row_hash({**row, "created_at": "2026-01-02 03:04:05"}) == row_hash(row)
    assert row_hash({**row, "actor": ""}) != row_hash(row)
    assert row_hash({**row, "created_at": datetime(2026, 1, 2, 3, 4, 5, 1)}) != row_hash(row)
    # Décaler un séparateur entre deux champs change l'empreinte.
    assert row_hash({**row, "target_type": ",", "target_id": "é\n"}) != row_hash(
        {**row, "target_type": "", "target_id": ",é\n"}
    )


def test_huge_tampering_is_listed_compactly(audit_db: Backend) -> None:
    _sealed(3000)
    db.execute("UPDATE audit_log SET details = ? WHERE id <= ?", ["x", 120])
    db.execute("DELETE FROM audit_log WHERE id > ? AND id < ?", [2000, 3000])
    report = verify_audit_log(key=KEY)
    assert report.modified == list(range(1, 121))
    assert report.deleted == [(2001, 2999)]
    lines = report.problems()
    assert lines[0].endswith("50… (120 en tout)")
    assert lines[1] == "Entrées supprimées (id) : 2001-2999"


def test_summary_names_the_head_of_the_chain(audit_db: Backend) -> None:
    _sealed(300)
    mac = db.fetch_one("SELECT mac FROM audit_seal WHERE seq = 1")["mac"]
    assert f"n°1 à 1 (MAC {mac[:16]})" in verify_audit_log(key=KEY).summary()


@pytest.mark.fast
def test_huge_lag_is_refused_before_any_sql() -> None:
    with pytest.raises(AuditError, match="trop grand"):
        seal_audit_log(lag_seconds=10**15, key=KEY, now=datetime(2026, 1, 1))
