"""Propriété : un détail se relit à l'identique, ou il est refusé avant d'écrire.

La décision est celle d'`encode_details`, une fonction pure qui ne connaît pas
le backend : le même test, joué sur chaque backend réel, vérifie que la base
relit exactement ce qui a été accepté et ne voit jamais ce qui a été refusé.
La décision est donc la même partout.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from core.database import db
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from conftest import Backend
from forge_mvc_audit import AuditError, get_audit_log, record_audit
from forge_mvc_audit.details import encode_details

settings.register_profile(
    "audit-roundtrip",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Tout Unicode, NUL et surrogates isolés compris.
_any_char = st.characters(exclude_categories=())
_text = st.text(alphabet=_any_char, max_size=40)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN et infinis compris : à refuser
    _text,
)
_json = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_text, children, max_size=4),
    ),
    max_leaves=12,
)
_details = st.one_of(
    _text,
    # Autour du plafond de 65 535 octets, en caractères de 1 à 4 octets.
    st.builds(lambda c, n: c * n, _any_char, st.integers(min_value=16_000, max_value=66_000)),
    st.dictionaries(_text, _json, max_size=5),
    st.lists(_json, max_size=5),
)


def _count() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM audit_log")
    assert row is not None
    return int(row["n"])


@settings.get_profile("audit-roundtrip")
@given(value=_details)
def test_details_round_trip_or_refusal(audit_db: Backend, value: Any) -> None:
    try:
        expected = encode_details(value)
    except AuditError:
        expected = None
    event("refusé" if expected is None else "accepté")
    before = _count()
    if expected is None:
        with pytest.raises(AuditError):
            record_audit("propriete", details=value)
        assert _count() == before
        return
    new_id = record_audit("propriete", details=value)
    [entry] = get_audit_log(limit=1)
    assert entry.id == new_id
    assert entry.details == expected
    if isinstance(value, str):
        assert entry.details == value
    else:
        assert entry.details_data == json.loads(expected)
