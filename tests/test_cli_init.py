"""`forge audit:init`, lancé comme un utilisateur le lance : par la CLI de Forge."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from forge_mvc_audit.tables import MIGRATIONS

pytestmark = pytest.mark.fast

FORGE = str(Path(sys.executable).parent / "forge")


def forge(cwd: Path, *args: str, backend: str = "sqlite") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["DB_BACKEND"] = backend
    return subprocess.run(
        [FORGE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mvc").mkdir()
    return tmp_path


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "mariadb", "mssql"])
def test_init_writes_the_migrations_of_the_active_backend(project: Path, backend: str) -> None:
    result = forge(project, "audit:init", backend=backend)
    assert result.returncode == 0, result.stdout + result.stderr
    written = sorted((project / "mvc" / "migrations").glob("*.sql"))
    committed = sorted((ROOT / "migrations" / backend).glob("*.sql"))
    assert [p.name for p in written] == [p.name for p in committed]
    for mine, reference in zip(written, committed, strict=True):
        assert mine.read_bytes() == reference.read_bytes()
    assert result.stdout.count("[OK] Migration Audit copiée") == len(committed)
    assert "Traceback" not in result.stderr


def test_init_is_idempotent_and_never_overwrites(project: Path) -> None:
    assert forge(project, "audit:init").returncode == 0
    again = forge(project, "audit:init")
    assert again.returncode == 0
    assert again.stdout.count("identique") == len(MIGRATIONS)
    target = next((project / "mvc" / "migrations").glob("*create_audit_log.sql"))
    target.write_text("-- modifié à la main\n")
    third = forge(project, "audit:init")
    assert third.returncode == 0
    assert "[WARN]" in third.stdout and target.name in third.stdout
    assert target.read_text() == "-- modifié à la main\n"


def test_outside_a_forge_project_is_one_clear_error(tmp_path: Path) -> None:
    result = forge(tmp_path, "audit:init")
    assert result.returncode == 1
    assert result.stdout.startswith("[ERREUR] ")
    assert "projet Forge" in result.stdout.splitlines()[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "mvc").exists()


def test_unknown_backend_is_one_clear_error(project: Path) -> None:
    result = forge(project, "audit:init", backend="inexistant")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("[ERREUR]")]
    assert len(errors) == 1 and "inexistant" in errors[0]
    assert list((project / "mvc" / "migrations").glob("*.sql")) == []


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_and_does_nothing(project: Path, flag: str) -> None:
    result = forge(project, "audit:init", flag)
    assert result.returncode == 0
    assert "audit:init" in result.stdout and "Usage" in result.stdout
    assert not (project / "mvc" / "migrations").exists()


def test_unexpected_argument_is_refused(project: Path) -> None:
    result = forge(project, "audit:init", "--force")
    assert result.returncode == 2
    assert result.stdout.startswith("[ERREUR] ")
    assert not (project / "mvc" / "migrations").exists()
