"""Détails structurés : JSON canonique, masquage à toute profondeur, plafond, audit_changes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import ROOT, Backend
from forge_mvc_audit import (
    REDACTED,
    AuditError,
    add_redacted_keys,
    audit_changes,
    get_audit_log,
    max_details_bytes,
    record_audit,
    redacted_keys,
    reset_redacted_keys,
    set_max_details_bytes,
)
from forge_mvc_audit.details import encode_details


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AUDIT_REDACT_KEYS", raising=False)
    monkeypatch.delenv("AUDIT_MAX_DETAILS_BYTES", raising=False)
    reset_redacted_keys()
    set_max_details_bytes(None)
    yield
    reset_redacted_keys()
    set_max_details_bytes(None)


# -- Sans base ---------------------------------------------------------------


@pytest.mark.fast
def test_canonical_json_is_compact_sorted_and_utf8() -> None:
    text = encode_details({"b": 1, "a": ["é", None, True, 1.5], "c": {"z": 0, "y": "😀"}})
    assert text == '{"a":["é",null,true,1.5],"b":1,"c":{"y":"😀","z":0}}'
    # Deux dicts égaux donnent le même texte, quel que soit l'ordre d'insertion.
    assert encode_details({"x": 1, "y": 2}) == encode_details({"y": 2, "x": 1})
    # Tout Mapping et tout tuple sont acceptés, écrits comme dict et liste.
    from types import MappingProxyType

    assert encode_details(MappingProxyType({"t": (1, 2)})) == '{"t":[1,2]}'


@pytest.mark.fast
def test_plain_text_is_kept_verbatim() -> None:
    assert encode_details('  {"pas": du json} ') == '  {"pas": du json} '
    assert encode_details("password=hunter2") == "password=hunter2"  # texte libre : tel quel


@pytest.mark.fast
@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"s": {1, 2}}, r"set dans details\.s"),
        ({"b": b"x"}, r"bytes dans details\.b"),
        ([1, [2, object()]], r"object dans details\[1\]\[1\]"),
        ({"f": float("nan")}, "JSON"),
        ({"f": float("inf")}, "JSON"),
        ({1: "clé entière"}, "clés doivent être des chaînes"),
        ({"s": "\ud800"}, "surrogate"),
        ({"\udfff": 1}, "surrogate"),
        (b"octets", "pas bytes"),
        (42, "pas int"),
        ("nul\x00", "NUL"),
    ],
)
def test_non_serialisable_values_are_refused(value: Any, message: str) -> None:
    with pytest.raises(AuditError, match=message):
        encode_details(value)


@pytest.mark.fast
def test_nul_inside_structured_text_is_escaped_not_refused() -> None:
    text = encode_details({"s": "a\x00b"})
    assert text == '{"s":"a\\u0000b"}'
    assert json.loads(text or "") == {"s": "a\x00b"}


@pytest.mark.fast
def test_cycles_and_absurd_nesting_are_refused() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(AuditError, match="imbriqué"):
        encode_details(loop)
    deep: Any = "fond"
    for _ in range(100):
        deep = [deep]
    with pytest.raises(AuditError, match="imbriqué"):
        encode_details(deep)


@pytest.mark.fast
def test_redaction_at_every_depth_inside_lists() -> None:
    details = {
        "user": "dupont",
        "password": "hunter2",
        "changes": [
            {"champ": "email", "valeurs": [{"Api_Key": "k-123", "ok": 1}]},
            {"confirm_PASSWORD": {"nested": "x"}, "refresh_token": ["a", "b"]},
        ],
        "headers": {"Authorization": "Bearer abc", "Cookie": "sid=1", "X-CSRF-Token": "t"},
        "mot_de_passe_actuel": "secret1",
        "compte": {"niveau": [{"passwd": None, "client_secret": 3}]},
    }
    stored = json.loads(encode_details(details) or "")
    assert stored == {
        "user": "dupont",
        "password": REDACTED,
        "changes": [
            {"champ": "email", "valeurs": [{"Api_Key": REDACTED, "ok": 1}]},
            {"confirm_PASSWORD": REDACTED, "refresh_token": REDACTED},
        ],
        "headers": {"Authorization": REDACTED, "Cookie": REDACTED, "X-CSRF-Token": REDACTED},
        "mot_de_passe_actuel": REDACTED,
        "compte": {"niveau": [{"passwd": REDACTED, "client_secret": REDACTED}]},
    }
    text = encode_details(details) or ""
    for secret in ("hunter2", "k-123", "Bearer", "sid=1", "secret1"):
        assert secret not in text
    assert details["password"] == "hunter2"  # l'objet de l'appelant n'est pas modifié


@pytest.mark.fast
def test_a_secret_value_is_masked_whatever_its_type() -> None:
    # Même non sérialisable : rien n'en sort, donc rien à refuser.
    assert encode_details({"token": b"\x00\x01"}) == '{"token":"[masqué]"}'


@pytest.mark.fast
def test_application_and_environment_extend_the_sensitive_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert json.loads(encode_details({"iban": "FR76", "note": 12}) or "") == {
        "iban": "FR76",
        "note": 12,
    }
    add_redacted_keys("IBAN")
    assert json.loads(encode_details({"iban_pro": "FR76", "note": 12}) or "") == {
        "iban_pro": REDACTED,
        "note": 12,
    }
    monkeypatch.setenv("AUDIT_REDACT_KEYS", " Note , numero_secu ")
    assert json.loads(encode_details([{"note": 12, "NUMERO_SECU": "1 85"}]) or "") == [
        {"note": REDACTED, "NUMERO_SECU": REDACTED}
    ]
    assert {"iban", "note", "numero_secu", "password"} <= redacted_keys()
    reset_redacted_keys()
    monkeypatch.delenv("AUDIT_REDACT_KEYS")
    assert json.loads(encode_details({"iban": "FR76"}) or "") == {"iban": "FR76"}
    with pytest.raises(AuditError, match="Clé à masquer invalide"):
        add_redacted_keys("  ")


@pytest.mark.fast
def test_audit_changes_keeps_only_changed_fields() -> None:
    before = {"nom": "Dupont", "note": 12, "classe": "3B", "retire": "x"}
    after = {"nom": "Dupont", "note": 15, "classe": "3B", "ajoute": [1]}
    assert audit_changes(before, after) == {
        "note": [12, 15],
        "retire": ["x", None],
        "ajoute": [None, [1]],
    }
    assert audit_changes(before, before) == {}
    assert audit_changes(None, {"a": 1}) == {"a": [None, 1]}
    with pytest.raises(AuditError, match="dict ou None"):
        audit_changes(["a"], {})  # type: ignore[arg-type]


@pytest.mark.fast
def test_audit_changes_shows_a_changed_secret_without_its_values() -> None:
    changes = audit_changes(
        {"password_hash": "old$hash", "email": "a@x", "api_key": "k1"},
        {"password_hash": "new$hash", "email": "a@x", "api_key": "k1", "token": "t"},
    )
    assert changes == {"password_hash": [REDACTED, REDACTED], "token": [None, REDACTED]}
    # Écrit tel quel : la paire reste une paire, toujours sans valeur.
    assert json.loads(encode_details(changes) or "") == changes
    # Une paire qui porterait une vraie valeur serait masquée en entier.
    assert json.loads(encode_details({"token": ["vrai", REDACTED]}) or "") == {"token": REDACTED}


@pytest.mark.fast
def test_size_cap_default_and_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert max_details_bytes() == 65_535
    set_max_details_bytes(100)
    assert encode_details("é" * 50) == "é" * 50  # 100 octets : juste au plafond
    with pytest.raises(AuditError, match=r"dépasse 100 octets UTF-8 \(102\)"):
        encode_details("é" * 51)
    with pytest.raises(AuditError, match="dépasse 100 octets"):
        encode_details({"liste": list(range(40))})
    with pytest.raises(AuditError, match="65535 octets"):
        set_max_details_bytes(65_536)
    with pytest.raises(AuditError, match=">= 1"):
        set_max_details_bytes(0)
    monkeypatch.setenv("AUDIT_MAX_DETAILS_BYTES", "10")
    set_max_details_bytes(None)  # relit l'environnement
    assert max_details_bytes() == 10
    with pytest.raises(AuditError, match="dépasse 10 octets"):
        encode_details("x" * 11)


@pytest.mark.fast
def test_environment_value_above_the_column_capacity_is_refused_clearly() -> None:
    code = (
        "from forge_mvc_audit import record_audit, AuditError\n"
        "try:\n    record_audit('x', details='y')\n"
        "except AuditError as e:\n    print('REFUS', e)\n"
    )
    env = {
        "AUDIT_MAX_DETAILS_BYTES": "70000",
        "PYTHONPATH": str(ROOT / "src"),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert out.startswith("REFUS AUDIT_MAX_DETAILS_BYTES = 70000 dépasse 65535 octets"), out


# -- Sur les backends réels ----------------------------------------------------


def test_structured_details_round_trip(audit_db: Backend) -> None:
    value = {
        "note": [12, 15],
        "commentaire": "très bien 😀",
        "vide": None,
        "nul": "a\x00b",
        "imbrique": [{"x": [1, 2.5, False]}],
    }
    record_audit("note.modifiee", details=value)
    [entry] = get_audit_log()
    assert entry.details_data == value
    assert entry.details == encode_details(value)


def test_redaction_happens_before_the_database(audit_db: Backend) -> None:
    record_audit("compte.modifie", details={"profil": [{"securite": {"password": "hunter2"}}]})
    from core.database import db

    raw = db.fetch_one("SELECT details FROM audit_log")
    assert raw is not None and "hunter2" not in str(raw["details"])
    [entry] = get_audit_log()
    assert entry.details_data == {"profil": [{"securite": {"password": REDACTED}}]}


def test_refused_details_write_nothing(audit_db: Backend) -> None:
    from forge_mvc_audit import count_audit

    for bad in ({"s": {1}}, {"f": float("nan")}, {"big": "x" * 70_000}):
        with pytest.raises(AuditError):
            record_audit("x", details=bad)
    assert count_audit() == 0


def test_details_at_the_full_cap_round_trip(audit_db: Backend) -> None:
    value = {"t": "é" * 32_760}  # 65 520 + 8 octets de JSON
    text = encode_details(value) or ""
    assert len(text.encode()) <= 65_535
    record_audit("gros", details=value)
    [entry] = get_audit_log()
    assert entry.details_data == value
