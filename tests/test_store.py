"""Contrat d'écriture et de lecture, le même sur les trois backends réels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from core.database import db
from core.database.transaction import transaction

from conftest import Backend
from forge_mvc_audit import MAX_LIMIT, AuditEntry, AuditError, get_audit_log, record_audit

pytestmark = pytest.mark.usefixtures("audit_db")


def _count() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM audit_log")
    assert row is not None
    return int(row["n"])


def _close_to_now(stamp: str) -> bool:
    written = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return abs((datetime.now(UTC) - written).total_seconds()) < 5


def test_record_then_read_back_every_field() -> None:
    new_id = record_audit(
        "note.modifiee", actor="prof.dupont", target_type="note", target_id=7, details="12 -> 15"
    )
    assert isinstance(new_id, int) and new_id >= 1
    [entry] = get_audit_log()
    assert entry == AuditEntry(
        id=new_id,
        actor="prof.dupont",
        action="note.modifiee",
        target_type="note",
        target_id="7",
        details="12 -> 15",
        created_at=entry.created_at,
    )
    assert _close_to_now(entry.created_at)


def test_only_action_is_required() -> None:
    record_audit("connexion")
    [entry] = get_audit_log()
    assert (entry.action, entry.actor, entry.target_type, entry.target_id, entry.details) == (
        "connexion",
        None,
        None,
        None,
        None,
    )


def test_server_default_created_at_is_utc_too() -> None:
    db.execute("INSERT INTO audit_log (action) VALUES (?)", ("brut",))
    [entry] = get_audit_log()
    assert _close_to_now(entry.created_at), entry.created_at


def test_newest_first_and_ids_increase() -> None:
    ids = [record_audit(f"a{i}") for i in range(5)]
    assert ids == sorted(ids)
    assert [e.id for e in get_audit_log()] == ids[::-1]


def test_filters_combine_with_and() -> None:
    record_audit("note.modifiee", actor="prof.dupont", target_type="note", target_id=7)
    record_audit("note.modifiee", actor="prof.martin", target_type="note", target_id=7)
    record_audit("eleve.cree", actor="prof.dupont", target_type="eleve", target_id="7")
    record_audit("note.modifiee", actor="prof.dupont", target_type="note", target_id=8)

    def actions(**filters: object) -> list[tuple[str | None, str, str | None, str | None]]:
        return [
            (e.actor, e.action, e.target_type, e.target_id)
            for e in get_audit_log(**filters)  # type: ignore[arg-type]
        ]

    assert len(actions(actor="prof.dupont")) == 3
    assert actions(actor="prof.dupont", action="note.modifiee", target_id=7) == [
        ("prof.dupont", "note.modifiee", "note", "7")
    ]
    assert actions(target_type="note", target_id="7") == [
        ("prof.martin", "note.modifiee", "note", "7"),
        ("prof.dupont", "note.modifiee", "note", "7"),
    ]
    assert actions(target_id=7) == [
        ("prof.dupont", "eleve.cree", "eleve", "7"),
        ("prof.martin", "note.modifiee", "note", "7"),
        ("prof.dupont", "note.modifiee", "note", "7"),
    ]
    assert actions(actor="personne") == []


def test_equality_is_exact_on_every_backend() -> None:
    """MariaDB compare sans casse ni accents par défaut : le journal, lui, est exact."""
    record_audit("connexion", actor="Élodie")
    record_audit("connexion", actor="elodie ")
    assert [e.actor for e in get_audit_log(actor="Élodie")] == ["Élodie"]
    assert get_audit_log(actor="elodie") == []
    assert get_audit_log(actor="ELODIE ") == []


def test_limit_is_capped_and_validated() -> None:
    with transaction() as tx:
        for i in range(MAX_LIMIT + 5):
            record_audit("masse", target_id=i, tx=tx)
    assert len(get_audit_log(limit=10**9)) == MAX_LIMIT
    assert len(get_audit_log(limit=3)) == 3
    for bad in (0, -1, True, "10", 2.5):
        with pytest.raises(AuditError):
            get_audit_log(limit=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("action", ["", "   ", "\n\t", None, 42])
def test_blank_or_wrong_action_writes_nothing(action: object) -> None:
    with pytest.raises(AuditError, match="action"):
        record_audit(action, actor="x")  # type: ignore[arg-type]
    assert _count() == 0


def test_audit_error_is_a_value_error() -> None:
    assert issubclass(AuditError, ValueError)


@pytest.mark.parametrize("field", ["actor", "action", "target_type", "target_id"])
def test_column_length_is_enforced_alike(field: str) -> None:
    def write(value: str) -> int:
        values: dict[str, str] = {"action": "x", field: value}
        action = values.pop("action")
        return record_audit(action, **values)  # type: ignore[arg-type]

    write("a" * 191)
    write("é" * 191)
    write("😀" * 95)  # 190 unités UTF-16 : tient aussi en NVARCHAR(191)
    before = _count()
    for too_long in ("a" * 192, "é" * 192, "😀" * 96):
        with pytest.raises(AuditError, match="trop long"):
            write(too_long)
    assert _count() == before
    stored = [getattr(e, field) for e in get_audit_log()]
    assert stored == ["😀" * 95, "é" * 191, "a" * 191]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "a\x00b"}, "NUL"),
        ({"details": "x\x00"}, "NUL"),
        ({"target_type": "\ud800"}, "surrogate"),
        ({"details": "\udfff"}, "surrogate"),
        ({"actor": 12}, "chaîne"),
        ({"target_id": 1.5}, "entier"),
        ({"target_id": True}, "entier"),
        ({"details": b"bytes"}, "chaîne"),
        ({"target_id": 10**200}, "trop long"),
        ({"details": "é" * 32768}, "octets"),
    ],
)
def test_bad_values_are_refused_before_writing(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AuditError, match=message):
        record_audit("x", **kwargs)  # type: ignore[arg-type]
    assert _count() == 0


def test_details_up_to_the_cap_round_trip() -> None:
    text = "é" * 32767 + "a"  # 65 535 octets UTF-8 : la capacité d'un TEXT MariaDB
    record_audit("gros", details=text)
    [entry] = get_audit_log()
    assert entry.details == text


def test_unicode_of_every_plane_round_trips() -> None:
    value = "élève 学生 😀 \u202e \u200b ∑ 𝄞"
    record_audit(value, actor=value, target_type=value, target_id=value, details=value * 10)
    [entry] = get_audit_log(actor=value, action=value, target_type=value, target_id=value)
    assert (entry.actor, entry.action, entry.target_type, entry.target_id) == (value,) * 4
    assert entry.details == value * 10


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE audit_log; --",
    '" OR ""="',
    "1) OR (1=1",
    "\\'; DELETE FROM audit_log; --",
    "%' OR 1=1 --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_payloads_are_plain_values(payload: str) -> None:
    record_audit("connexion", actor="prof.dupont")
    for field in ("actor", "action", "target_type", "target_id", "request_id"):
        assert get_audit_log(**{field: payload}) == []  # type: ignore[arg-type]
    record_audit(payload, actor=payload, target_id=payload, details=payload)
    [entry] = get_audit_log(actor=payload)
    assert (entry.action, entry.target_id, entry.details) == (payload, payload, payload)
    assert _count() == 2


def test_record_inside_a_transaction_follows_it(audit_db: Backend) -> None:
    with pytest.raises(RuntimeError), transaction() as tx:
        record_audit("annule", tx=tx)
        raise RuntimeError("le changement métier échoue")
    assert _count() == 0
    with transaction() as tx:
        kept = record_audit("garde", tx=tx)
    assert [e.id for e in get_audit_log()] == [kept]
    assert audit_db.name in ("sqlite", "postgres", "mariadb")
