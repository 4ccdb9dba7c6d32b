"""Affichage terminal : échappements, largeur, troncature (sans base)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forge_mvc_audit._safe_text import display_width, terminal_text, truncate
from forge_mvc_audit.cli.show import fit_widths, render_table
from forge_mvc_audit.entry import AuditEntry

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("clair", "clair"),
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("l1\nl2\r\tfin", "l1\\nl2\\r\\tfin"),
        ("\x00\x07\x7f", "\\x00\\x07\\x7f"),
        ("\x9b31m", "\\x9b31m"),  # CSI sur un octet (C1)
        ("abc\u202edef", "abc\\u202edef"),  # inversion bidirectionnelle
        ("a\u200bb\u2028c", "a\\u200bb\\u2028c"),
        ("\U000e0041", "\\U000e0041"),  # étiquette Unicode invisible
        ("élève 学生 😀", "élève 学生 😀"),
        ("12\u00a0h", "12\u00a0h"),  # l'insécable du français reste lisible
    ],
)
def test_terminal_text_escapes_what_a_terminal_would_run(raw: str, shown: str) -> None:
    assert terminal_text(raw) == shown


def _dangerous(char: str) -> bool:
    return not char.isprintable() and unicodedata.category(char) != "Zs"


@given(st.text())
def test_terminal_text_never_lets_a_control_through(raw: str) -> None:
    assert not any(_dangerous(char) for char in terminal_text(raw))


@given(st.text(), st.integers(min_value=0, max_value=60))
def test_truncate_fits_and_marks_the_cut(raw: str, width: int) -> None:
    text = terminal_text(raw)
    cut = truncate(text, width)
    assert display_width(cut) <= width
    if cut != text:
        assert width == 0 or cut.endswith("…")
        assert text.startswith(cut[:-1])


def test_display_width_counts_wide_characters_twice() -> None:
    assert display_width("abc") == 3
    assert display_width("学生") == 4
    assert display_width("e\u0301") == 1  # e + accent combinant
    assert truncate("学生学生", 5) == "学生…"


@pytest.mark.parametrize(
    ("natural", "flexible", "available", "expected"),
    [
        ([5, 19, 10, 10], [False, False, True, True], 60, [5, 19, 10, 10]),
        ([5, 19, 30, 10], [False, False, True, True], 50, [5, 19, 16, 10]),
        ([5, 19, 30, 30], [False, False, True, True], 50, [5, 19, 13, 13]),
        ([2, 19, 30, 30, 30, 30, 30, 30], [False, False, *[True] * 6], 45, [2, 19, *[4] * 6]),
        ([5, 19, 30, 30], [False, False, True, True], 10, [5, 19, 6, 6]),  # rien ne tient
    ],
)
def test_fit_widths_shrinks_the_widest_first(
    natural: list[int], flexible: list[bool], available: int, expected: list[int]
) -> None:
    assert fit_widths(natural, flexible, available) == expected


_text = st.text(max_size=300) | st.sampled_from(["\x1b[2J", "学生" * 40, "😀" * 50, "a\nb"])


@st.composite
def _entries(draw: st.DrawFn) -> list[AuditEntry]:
    count = draw(st.integers(min_value=1, max_value=5))
    return [
        AuditEntry(
            id=draw(st.integers(min_value=1, max_value=10**12)),
            actor=draw(st.none() | _text),
            action=draw(_text),
            target_type=draw(st.none() | _text),
            target_id=draw(st.none() | _text),
            details=draw(st.none() | _text),
            created_at="2026-01-05 10:00:00",
            request_id=draw(st.none() | _text),
            ip=draw(st.none() | st.just("2001:db8::1")),
        )
        for _ in range(count)
    ]


@given(_entries(), st.integers(min_value=70, max_value=250))
def test_table_fits_the_terminal_and_is_safe(entries: list[AuditEntry], width: int) -> None:
    lines = render_table(entries, width)
    assert len(lines) == len(entries) + 1
    for line in lines:
        assert display_width(line) <= width, line
        assert not any(_dangerous(char) for char in line)
    assert lines[0].split()[:2] == ["ID", "DATE"]
    for entry, line in zip(entries, lines[1:], strict=True):
        assert line.split()[0] == str(entry.id)


def test_table_keeps_short_values_whole_and_hides_empty_optional_columns() -> None:
    entry = AuditEntry(
        12, "prof.dupont", "note.modifiee", "note", "7", "12 -> 15", "2026-01-05 10:00:00"
    )
    header, row = render_table([entry], 120)
    assert "REQUÊTE" not in header and "IP" not in header.split()
    assert row.split() == [
        "12",
        "2026-01-05",
        "10:00:00",
        "prof.dupont",
        "note.modifiee",
        "note:7",
        "12",
        "->",
        "15",
    ]
