"""Banc commun : les mêmes tests sur SQLite, PostgreSQL et MariaDB réels.

Chaque backend serveur reçoit une base jetable, créée au début de la session
et supprimée à la fin. Les serveurs sont ceux qui répondent sur 127.0.0.1
(`scripts/test.sh` en démarre là où aucun ne répond). Avec
AUDIT_REQUIRE_SERVERS=1, un serveur absent fait échouer au lieu de sauter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli._support.optin_migrations import iter_migration_resources
from core.database import db
from core.database.backend import reset_backend
from core.database.sql_script import split_sql_statements

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

_REQUIRE = os.environ.get("AUDIT_REQUIRE_SERVERS") == "1"
_DB_ENV = (
    "DB_BACKEND",
    "DB_NAME",
    "DB_HOST",
    "DB_PORT",
    "DB_APP_LOGIN",
    "DB_APP_PWD",
    "DB_ADMIN_LOGIN",
    "DB_ADMIN_PWD",
    "DB_POOL_TIMEOUT",
)


_active: Backend | None = None


@dataclass
class Backend:
    """Un backend réel actif : son nom et les variables DB_* qui le désignent."""

    name: str
    env: dict[str, str]

    def activate(self) -> None:
        global _active
        if _active is self:
            return
        _active = self
        for key in _DB_ENV:
            os.environ.pop(key, None)
        os.environ.update(self.env)
        reset_backend()

    def reset_table(self) -> None:
        """Vide le journal et ses scellements, et remet les identifiants à 1."""
        if self.name == "postgres":
            db.execute("TRUNCATE audit_log RESTART IDENTITY")
            db.execute("TRUNCATE audit_seal")
        elif self.name == "mariadb":
            db.execute("TRUNCATE TABLE audit_log")
            db.execute("TRUNCATE TABLE audit_seal")
        else:
            db.execute("DELETE FROM audit_log")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'audit_log'")
            db.execute("DELETE FROM audit_seal")


def apply_migrations(backend: str) -> None:
    """Applique les migrations rendues pour le backend actif, instruction par instruction."""
    del backend
    for _name, content in iter_migration_resources("forge_mvc_audit"):
        for statement in split_sql_statements(content.decode("utf-8")):
            db.execute(statement)


def _unique_name() -> str:
    return f"forge_audit_test_{os.getpid()}"


def _server_unavailable(what: str, error: Exception) -> None:
    message = f"{what} injoignable sur 127.0.0.1 : {error}"
    if _REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def _pg_settings() -> dict[str, str]:
    return {
        "host": os.environ.get("AUDIT_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("AUDIT_PG_PORT", "5432"),
        "user": os.environ.get("AUDIT_PG_USER", "postgres"),
        "password": os.environ.get("AUDIT_PG_PASSWORD", "") or "trust",
    }


def _maria_settings() -> dict[str, str]:
    return {
        "host": os.environ.get("AUDIT_MARIADB_HOST", "127.0.0.1"),
        "port": os.environ.get("AUDIT_MARIADB_PORT", "3306"),
        "user": os.environ.get("AUDIT_MARIADB_USER", "root"),
        "password": os.environ.get("AUDIT_MARIADB_PASSWORD", ""),
    }


def pg_admin(database: str = "postgres") -> Any:
    import psycopg

    s = _pg_settings()
    return psycopg.connect(
        host=s["host"], port=int(s["port"]), user=s["user"], dbname=database, autocommit=True
    )


def maria_admin(database: str | None = None) -> Any:
    import mariadb

    s = _maria_settings()
    kwargs: dict[str, Any] = {
        "host": s["host"],
        "port": int(s["port"]),
        "user": s["user"],
        "password": s["password"],
        "autocommit": True,
    }
    if database:
        kwargs["database"] = database
    return mariadb.connect(**kwargs)


def _make_sqlite(tmp: Path) -> Iterator[Backend]:
    path = tmp / "audit.db"
    import sqlite3

    sqlite3.connect(path).close()
    yield Backend("sqlite", {"DB_BACKEND": "sqlite", "DB_NAME": str(path)})


def _make_postgres() -> Iterator[Backend]:
    name = _unique_name()
    try:
        with pg_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    except Exception as error:
        _server_unavailable("PostgreSQL", error)
    s = _pg_settings()
    env = {
        "DB_BACKEND": "postgres",
        "DB_NAME": name,
        "DB_HOST": s["host"],
        "DB_PORT": s["port"],
        "DB_APP_LOGIN": s["user"],
        # Jamais vide : forge-mvc-postgres compose « password= options=... » et
        # libpq lit alors « options » comme le mot de passe. L'accès local est
        # en trust, la valeur n'est pas vérifiée.
        "DB_APP_PWD": s["password"],
        "DB_ADMIN_LOGIN": s["user"],
        "DB_ADMIN_PWD": s["password"],
    }
    try:
        yield Backend("postgres", env)
    finally:
        reset_backend()
        with pg_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _make_mariadb() -> Iterator[Backend]:
    name = _unique_name()
    try:
        conn = maria_admin()
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        conn.close()
    except Exception as error:
        _server_unavailable("MariaDB", error)
    s = _maria_settings()
    env = {
        "DB_BACKEND": "mariadb",
        "DB_NAME": name,
        "DB_HOST": s["host"],
        "DB_PORT": s["port"],
        "DB_APP_LOGIN": s["user"],
        "DB_APP_PWD": s["password"],
        "DB_ADMIN_LOGIN": s["user"],
        "DB_ADMIN_PWD": s["password"],
    }
    try:
        yield Backend("mariadb", env)
    finally:
        reset_backend()
        conn = maria_admin()
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


BACKEND_PARAMS = [
    pytest.param("sqlite", marks=pytest.mark.fast),
    pytest.param("postgres"),
    pytest.param("mariadb"),
]


@pytest.fixture(scope="session", params=BACKEND_PARAMS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    """Un backend réel, sa base jetable et la table du journal migrée."""
    name: str = request.param
    if name == "sqlite":
        maker = _make_sqlite(tmp_path_factory.mktemp("sqlite"))
    elif name == "postgres":
        maker = _make_postgres()
    else:
        maker = _make_mariadb()
    info = next(maker)
    try:
        # Dans le try : une migration qui échoue ne doit pas laisser la base jetable.
        info.activate()
        apply_migrations(name)
        yield info
    finally:
        global _active
        _active = None
        reset_backend()
        for key in _DB_ENV:
            os.environ.pop(key, None)
        maker.close()


@pytest.fixture
def audit_db(backend: Backend) -> Iterator[Backend]:
    """Le backend actif, journal vide, identifiants repartant de 1."""
    backend.activate()
    backend.reset_table()
    yield backend
