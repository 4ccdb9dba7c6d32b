"""record_audit_many : tout valider, puis écrire en multi-lignes, tout ou rien."""

from __future__ import annotations

from typing import Any

import pytest
from core.database import db
from core.database.transaction import transaction

from conftest import Backend
from forge_mvc_audit import AuditError, audit_context, get_audit_log, record_audit_many
from forge_mvc_audit.bulk import rows_per_statement

pytestmark = pytest.mark.usefixtures("audit_db")


def _count() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM audit_log")
    assert row is not None
    return int(row["n"])


def test_writes_every_field_and_returns_the_count() -> None:
    entries: list[dict[str, Any]] = [
        {
            "action": "note.modifiee",
            "actor": "prof.dupont",
            "target_type": "note",
            "target_id": 7,
            "details": {"note": [12, 15]},
        },
        {"action": "eleve.cree", "request_id": "lot-1", "ip": "2001:db8::1"},
        {"action": "connexion", "actor": "élève.çà", "details": "texte libre"},
    ]
    assert record_audit_many(entries) == 3
    newest_first = get_audit_log()
    assert [(e.action, e.actor, e.target_type, e.target_id) for e in newest_first] == [
        ("connexion", "élève.çà", None, None),
        ("eleve.cree", None, None, None),
        ("note.modifiee", "prof.dupont", "note", "7"),
    ]
    assert newest_first[2].details_data == {"note": [12, 15]}
    assert (newest_first[1].request_id, newest_first[1].ip) == ("lot-1", "2001:db8::1")
    assert newest_first[0].details == "texte libre"


def test_empty_batch_writes_nothing() -> None:
    assert record_audit_many([]) == 0
    assert _count() == 0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"action": ""}, "action est obligatoire"),
        ({"actor": "x"}, "action est obligatoire"),
        ({"action": "a", "acteur": "x"}, "clé inconnue 'acteur'"),
        ({"action": "a", "stamp": "2020-01-01 00:00:00"}, "clé inconnue 'stamp'"),
        ({"action": "a", 3: "x"}, "clé inconnue 3"),
        ({"action": "a", "details": {1, 2}}, "set"),
        ({"action": "a", "details": {"x": float("nan")}}, "JSON"),
        ({"action": "a", "target_id": 1.5}, "entier"),
        ({"action": "a", "ip": "999.1.1.1"}, "ip invalide"),
        ({"action": "a", "request_id": "<script>"}, "request_id invalide"),
        ("note.modifiee", "dict est attendu"),
    ],
)
def test_one_invalid_entry_writes_nothing(bad: Any, message: str) -> None:
    entries = [{"action": f"ok.{i}"} for i in range(5)]
    entries.insert(3, bad)
    with pytest.raises(AuditError, match=message) as caught:
        record_audit_many(entries)
    assert "indice 3" in str(caught.value)
    assert _count() == 0


def test_a_single_entry_instead_of_a_list_is_refused() -> None:
    with pytest.raises(AuditError, match="liste d'entrées"):
        record_audit_many({"action": "a"})  # type: ignore[arg-type]
    assert _count() == 0


def test_batch_bigger_than_one_statement(audit_db: Backend) -> None:
    per_statement = rows_per_statement(audit_db.name)
    total = per_statement * 2 + 17
    entries = ({"action": "lot", "target_id": i} for i in range(total))  # un générateur suffit
    assert record_audit_many(entries) == total
    ids = [int(r["target_id"]) for r in db.fetch_all("SELECT target_id FROM audit_log ORDER BY id")]
    assert ids == list(range(total))


def test_big_details_are_split_across_statements() -> None:
    # 60 x ~60 Ko : au-delà du budget de texte d'une instruction.
    entries = [
        {"action": "gros", "target_id": i, "details": chr(0x4E00 + i) * 20_000} for i in range(60)
    ]
    assert record_audit_many(entries) == 60
    rows = db.fetch_all("SELECT target_id, details FROM audit_log ORDER BY id")
    assert [(int(r["target_id"]), r["details"]) for r in rows] == [
        (i, chr(0x4E00 + i) * 20_000) for i in range(60)
    ]


def test_inside_a_caller_transaction_that_rolls_back() -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction() as tx:
        assert record_audit_many([{"action": f"a{i}"} for i in range(1200)], tx=tx) == 1200
        raise Boom
    assert _count() == 0
    with transaction() as tx:
        record_audit_many([{"action": "gardee"}], tx=tx)
    assert [e.action for e in get_audit_log()] == ["gardee"]


def test_optional_columns_set_on_a_single_row_only() -> None:
    record_audit_many([{"action": "a"}, {"action": "b", "request_id": "r-1"}, {"action": "c"}])
    assert [(e.action, e.request_id, e.ip) for e in get_audit_log()] == [
        ("c", None, None),
        ("b", "r-1", None),
        ("a", None, None),
    ]


def test_context_fills_what_entries_leave_out() -> None:
    with audit_context(actor="cron:import", request_id="job-42", ip="10.0.0.5"):
        record_audit_many([{"action": "a"}, {"action": "b", "actor": "prof.martin"}])
    entries = get_audit_log()
    assert [(e.actor, e.request_id, e.ip) for e in entries] == [
        ("prof.martin", "job-42", "10.0.0.5"),
        ("cron:import", "job-42", "10.0.0.5"),
    ]


@pytest.mark.fast
def test_rows_per_statement_respects_each_backend_parameter_limit() -> None:
    import sqlite3

    sqlite_limit = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
    for backend, limit in (
        ("sqlite", sqlite_limit),
        ("mssql", 2_100),
        ("postgres", 65_535),
        ("mariadb", 65_535),
    ):
        rows = rows_per_statement(backend)
        assert rows >= 1 and rows * 8 <= limit, backend
    assert rows_per_statement("mssql") <= 1_000
