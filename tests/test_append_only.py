"""Le conseil « ajout seul » du README, essayé sur les vrais serveurs.

PostgreSQL : le déclencheur livré (docs/append_only_postgres.sql) et un compte
INSERT/SELECT ; MariaDB : un compte INSERT/SELECT.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from core.database import db

from conftest import ROOT, Backend, maria_admin, pg_admin
from forge_mvc_audit import purge_audit_before, record_audit, seal_audit_log, verify_audit_log
from journal_helpers import KEY, ids, seed

GUARD = ROOT / "docs" / "append_only_postgres.sql"
_DROP = (
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_seal",
    "DROP TRIGGER IF EXISTS audit_seal_no_truncate ON audit_seal",
    "DROP FUNCTION IF EXISTS forge_audit_append_only()",
)


@pytest.fixture
def guarded(audit_db: Backend) -> Iterator[Backend]:
    if audit_db.name != "postgres":
        pytest.skip("déclencheur propre à PostgreSQL")
    # Appliqué tel quel, comme le ferait `psql -f` (le script contient un
    # corps de fonction entre $$, que le découpeur de Forge ne connaît pas).
    with pg_admin(audit_db.env["DB_NAME"]) as conn:
        conn.execute(GUARD.read_text())  # pyright: ignore[reportUnknownMemberType]
    try:
        yield audit_db
    finally:
        for statement in _DROP:
            db.execute(statement)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET details = 'x' WHERE id = 3",
        "DELETE FROM audit_log WHERE id = 3",
        "TRUNCATE audit_log",
        "UPDATE audit_seal SET digest = 'x'",
        "DELETE FROM audit_seal",
        "TRUNCATE audit_seal",
    ],
)
def test_guard_refuses_edits_outside_the_purge(guarded: Backend, sql: str) -> None:
    seed(10)
    seal_audit_log(key=KEY, now=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(Exception, match="ajout seul"):
        db.execute(sql)
    assert len(ids()) == 10
    assert verify_audit_log(key=KEY).ok


def test_guard_lets_record_and_purge_through(guarded: Backend) -> None:
    seed(3000, start="2020-01-01 00:00:00")
    seal_audit_log(key=KEY, now=datetime(2027, 1, 1, tzinfo=UTC))
    assert record_audit("apres.garde") == 3001
    assert purge_audit_before("2021-01-01 00:00:00", batch_size=700, key=KEY) == 3000
    assert ids() == [3001]
    assert verify_audit_log(key=KEY).ok


@pytest.fixture
def writer_role(audit_db: Backend) -> Iterator[str]:
    """Un compte applicatif qui ne peut qu'ajouter et lire, comme le conseille le README."""
    if audit_db.name != "postgres":
        pytest.skip("droits propres à PostgreSQL")
    role = f"forge_audit_writer_{os.getpid()}"
    grants = [
        f"DROP ROLE IF EXISTS {role}",
        f"CREATE ROLE {role} LOGIN PASSWORD 'trust'",
        f"GRANT SELECT, INSERT ON audit_log TO {role}",
        f"GRANT USAGE ON SEQUENCE audit_log_id_seq TO {role}",
        f"GRANT SELECT, INSERT ON audit_seal TO {role}",
    ]
    with pg_admin(audit_db.env["DB_NAME"]) as conn:
        for statement in grants:
            conn.execute(statement)  # pyright: ignore[reportUnknownMemberType]
    as_writer = Backend("postgres", {**audit_db.env, "DB_APP_LOGIN": role})
    as_writer.activate()
    try:
        yield role
    finally:
        audit_db.activate()
        with pg_admin(audit_db.env["DB_NAME"]) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # pyright: ignore[reportUnknownMemberType]
            conn.execute(f"DROP ROLE {role}")  # pyright: ignore[reportUnknownMemberType]


def test_insert_select_account_can_record_and_seal_but_not_edit(writer_role: str) -> None:
    assert db.fetch_one("SELECT current_user AS u")["u"] == writer_role
    for i in range(5):
        record_audit("ecrit.par.le.compte.applicatif", actor=f"u{i}")
    result = seal_audit_log(key=KEY, lag_seconds=0, now=datetime(2099, 1, 1, tzinfo=UTC))
    assert result.rows == 5
    assert verify_audit_log(key=KEY).ok
    for sql in (
        "UPDATE audit_log SET details = 'x' WHERE id = 1",
        "DELETE FROM audit_log WHERE id = 1",
        "UPDATE audit_seal SET digest = 'x'",
        "DELETE FROM audit_seal",
    ):
        with pytest.raises(Exception, match="permission denied"):
            db.execute(sql)
    with pytest.raises(Exception, match="permission denied"):
        purge_audit_before("2100-01-01 00:00:00", key=KEY)


@pytest.fixture
def maria_writer(audit_db: Backend) -> Iterator[str]:
    """Compte MariaDB limité à INSERT et SELECT, comme le conseille le README."""
    if audit_db.name != "mariadb":
        pytest.skip("droits propres à MariaDB")
    user = f"forge_audit_w_{os.getpid()}"
    name = audit_db.env["DB_NAME"]
    conn = maria_admin()
    cursor = conn.cursor()
    cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    cursor.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY ''")
    cursor.execute(f"GRANT SELECT, INSERT ON {name}.audit_log TO '{user}'@'%'")
    cursor.execute(f"GRANT SELECT, INSERT ON {name}.audit_seal TO '{user}'@'%'")
    conn.close()
    Backend("mariadb", {**audit_db.env, "DB_APP_LOGIN": user, "DB_APP_PWD": ""}).activate()
    try:
        yield user
    finally:
        audit_db.activate()
        conn = maria_admin()
        conn.cursor().execute(f"DROP USER IF EXISTS '{user}'@'%'")
        conn.close()


def test_mariadb_insert_select_account(maria_writer: str) -> None:
    assert str(db.fetch_one("SELECT CURRENT_USER() AS u")["u"]).startswith(maria_writer)
    for i in range(5):
        record_audit("ecrit.par.le.compte.applicatif", actor=f"u{i}")
    assert seal_audit_log(key=KEY, lag_seconds=0, now=datetime(2099, 1, 1, tzinfo=UTC)).rows == 5
    assert verify_audit_log(key=KEY).ok
    for sql in ("UPDATE audit_log SET details = 'x' WHERE id = 1", "DELETE FROM audit_seal"):
        with pytest.raises(Exception, match="command denied"):
            db.execute(sql)
