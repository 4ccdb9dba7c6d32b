"""`forge audit:gc`, `audit:seal`, `audit:verify` par le vrai exécutable `forge`.

Ces commandes ouvrent la base (`config: True`) : elles tournent dans un projet
Forge minimal (un config.py), les variables DB_* désignant la base de test.
"""

from __future__ import annotations

import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from core.database import db

from conftest import ROOT, Backend
from forge_mvc_audit import seal_audit_log
from journal_helpers import KEY, ids, seed

FORGE = str(Path(sys.executable).parent / "forge")
_CLEAR = ("DB_", "AUDIT_KEEP_DAYS", "AUDIT_SEAL_KEY", "AUDIT_SEAL_LAG")


def forge(
    project: Path, backend: Backend, *args: str, **env_extra: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAR)}
    env.update(backend.env)
    env.update(env_extra)
    return subprocess.run(
        [FORGE, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "config.py").write_text("# projet Forge minimal pour les tests\n")
    (tmp_path / "mvc").mkdir()
    return tmp_path


def _one_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output
    errors = [line for line in result.stderr.splitlines() if line.startswith("[ERREUR] ")]
    assert len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def _seal_count() -> int:
    return int(db.fetch_one("SELECT COUNT(*) AS n FROM audit_seal")["n"])


BAD_ARGS = [
    # (commande et arguments, environnement, code, mots attendus dans l'erreur)
    (["audit:gc"], {}, 1, ("--days", "AUDIT_KEEP_DAYS")),
    (["audit:gc", "--run"], {}, 1, ("--days", "AUDIT_KEEP_DAYS")),
    (["audit:gc", "--days", "0"], {}, 1, ("--days", "AUDIT_KEEP_DAYS", "nulle")),
    (["audit:gc", "--days", "-3", "--run"], {}, 1, ("--days", "AUDIT_KEEP_DAYS")),
    (["audit:gc", "--days=abc"], {}, 1, ("illisible", "AUDIT_KEEP_DAYS")),
    (["audit:gc", "--days", "9.5"], {}, 1, ("illisible",)),
    (["audit:gc", "--run"], {"AUDIT_KEEP_DAYS": "0"}, 1, ("AUDIT_KEEP_DAYS=0", "--days")),
    (["audit:gc"], {"AUDIT_KEEP_DAYS": "quatre"}, 1, ("AUDIT_KEEP_DAYS", "--days")),
    (["audit:gc"], {"AUDIT_KEEP_DAYS": "-30"}, 1, ("AUDIT_KEEP_DAYS", "--days")),
    (["audit:gc"], {"AUDIT_KEEP_DAYS": " "}, 1, ("--days", "AUDIT_KEEP_DAYS")),
    (["audit:gc", "--days", "99999999999"], {}, 1, ("trop grand",)),
    (["audit:gc", "--days"], {}, 2, ("--days", "valeur")),
    (["audit:gc", "--days", "5", "--days", "6"], {}, 2, ("deux fois",)),
    (["audit:gc", "--days", "5", "--force"], {}, 2, ("--force",)),
    (["audit:gc", "--days", "5", "--batch-size", "0"], {}, 2, ("--batch-size",)),
    (["audit:gc", "--days", "5", "--run=oui"], {}, 2, ("--run=oui",)),
    (["audit:seal", "--lag", "-1"], {}, 2, ("--lag",)),
    (["audit:seal", "--lag", "une minute"], {}, 2, ("--lag", "illisible")),
    (["audit:seal"], {"AUDIT_SEAL_LAG": "x"}, 2, ("AUDIT_SEAL_LAG",)),
    (["audit:seal", "maintenant"], {}, 2, ("maintenant",)),
    (["audit:verify", "--since-seal", "0"], {}, 2, ("--since-seal",)),
    (["audit:verify", "--since-seal", "deux"], {}, 2, ("--since-seal",)),
    (["audit:verify", "--since-seal", "99"], {}, 1, ("n°99",)),
    (["audit:verify", "--full"], {}, 2, ("--full",)),
]


@pytest.fixture
def sqlite_project(project: Path) -> tuple[Path, Backend]:
    """Un projet sur une base SQLite à lui, migrée et garnie de 100 entrées anciennes."""
    path = project / "audit.db"
    with sqlite3.connect(path) as conn:
        for migration in sorted((ROOT / "migrations" / "sqlite").glob("*.sql")):
            conn.executescript(migration.read_text())
        conn.executemany(
            "INSERT INTO audit_log (action, created_at) VALUES (?, ?)",
            [(f"a{i}", "2020-01-01 00:00:00") for i in range(100)],
        )
    return project, Backend("sqlite", {"DB_BACKEND": "sqlite", "DB_NAME": str(path)})


def _counts(project: Path) -> tuple[int, int]:
    with sqlite3.connect(project / "audit.db") as conn:
        rows = conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
        seals = conn.execute("SELECT COUNT(*) FROM audit_seal").fetchone()[0]
    return int(rows), int(seals)


@pytest.mark.fast
@pytest.mark.parametrize(("args", "env", "code", "words"), BAD_ARGS)
def test_bad_arguments_give_one_french_error_and_change_nothing(
    sqlite_project: tuple[Path, Backend],
    args: list[str],
    env: dict[str, str],
    code: int,
    words: tuple[str, ...],
) -> None:
    project, backend = sqlite_project
    _one_error(forge(project, backend, *args, **env), code, *words)
    assert _counts(project) == (100, 0)


@pytest.mark.fast
@pytest.mark.parametrize("command", ["audit:seal", "audit:verify"])
def test_help_prints_and_does_nothing(sqlite_project: tuple[Path, Backend], command: str) -> None:
    project, backend = sqlite_project
    result = forge(project, backend, command, "--help", AUDIT_SEAL_LAG="0")
    assert result.returncode == 0 and "Usage" in result.stdout and command in result.stdout
    assert _counts(project) == (100, 0)


@pytest.mark.fast
def test_seal_without_key_warns_and_verify_says_weak(sqlite_project: tuple[Path, Backend]) -> None:
    project, backend = sqlite_project
    sealed = forge(project, backend, "audit:seal")
    assert sealed.returncode == 0
    assert sealed.stdout.startswith("[WARN] AUDIT_SEAL_KEY absente")
    assert "(SHA-256 simple)" in sealed.stdout
    again = forge(project, backend, "audit:seal", "--lag", "0")
    assert "[INFO] Rien à sceller" in again.stdout
    verified = forge(project, backend, "audit:verify")
    assert verified.returncode == 0
    assert verified.stdout.splitlines()[0].startswith("[WARN] Des scellements sont en SHA-256")
    assert _counts(project) == (100, 1)


@pytest.mark.fast
def test_missing_seal_table_is_a_clear_error(sqlite_project: tuple[Path, Backend]) -> None:
    project, backend = sqlite_project
    with sqlite3.connect(project / "audit.db") as conn:
        conn.execute("DROP TABLE audit_seal")
    for command in ("audit:seal", "audit:verify"):
        _one_error(forge(project, backend, command), 1, "audit_seal", "forge audit:init")
    # La purge d'un journal jamais scellé n'a pas besoin de la table des scellements.
    gc = forge(project, backend, "audit:gc", "--days", "1", "--run")
    assert "[OK] 100 entrée(s) supprimée(s)." in gc.stdout, gc.stdout


@pytest.mark.fast
def test_gc_shows_progress_on_a_terminal(sqlite_project: tuple[Path, Backend]) -> None:
    project, backend = sqlite_project
    env = {k: v for k, v in os.environ.items() if not k.startswith(_CLEAR)}
    env.update(backend.env)
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [FORGE, "audit:gc", "--days", "1", "--run", "--batch-size", "30"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=follower, text=True,
            timeout=120,
        )
        os.close(follower)
        follower = -1
        progress = os.read(leader, 65536).decode()
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert result.returncode == 0
    assert "[INFO] 30 / 100 supprimée(s)" in progress and "100 / 100" in progress
    assert "supprimée(s)" not in result.stdout.replace("[OK] 100 entrée(s) supprimée(s).", "")


def test_gc_dry_run_then_run_then_verify(audit_db: Backend, project: Path) -> None:
    seed(3000, start="2020-01-01 00:00:00")
    seed(100, start="2099-01-01 00:00:00")
    dry = forge(project, audit_db, "audit:gc", AUDIT_KEEP_DAYS="30")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "3 000 entrée(s) antérieure(s)" in dry.stdout
    assert "UTC" in dry.stdout and "Rien n'a été supprimé" in dry.stdout
    assert len(ids()) == 3100
    # L'option l'emporte sur la variable, même illisible.
    run = forge(project, audit_db, "audit:gc", "--days", "30", "--run", AUDIT_KEEP_DAYS="x")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "[OK] 3 000 entrée(s) supprimée(s)." in run.stdout
    assert len(ids()) == 100


def test_seal_gc_verify_round_trip_with_key(audit_db: Backend, project: Path) -> None:
    seed(5000, start="2020-01-01 00:00:00")
    keyed = {"AUDIT_SEAL_KEY": KEY}
    sealed = forge(project, audit_db, "audit:seal", **keyed)
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    assert "[WARN]" not in sealed.stdout
    assert "[OK] 3 scellement(s) n°1 à 3 (HMAC-SHA-256) : 5 000 entrée(s), id 1 à 5000" in (
        sealed.stdout
    )
    seed(10, start="2099-01-01 00:00:00")
    dry = forge(project, audit_db, "audit:gc", "--days", "30", **keyed)
    assert "arrondie à la fin du scellement n°3 (id 5000)" in dry.stdout, dry.stdout
    assert len(ids()) == 5010
    run = forge(project, audit_db, "audit:gc", "--days", "30", "--run", **keyed)
    assert "[OK] 5 000 entrée(s) supprimée(s)." in run.stdout, run.stdout + run.stderr
    ok = forge(project, audit_db, "audit:verify", **keyed)
    assert ok.returncode == 0, ok.stdout
    assert ok.stdout.startswith("[OK] Journal intact : 4 scellement(s)")
    assert len(ok.stdout.strip().splitlines()) == 1


def test_verify_lists_what_was_tampered(audit_db: Backend, project: Path) -> None:
    seed(3000, start="2020-01-01 00:00:00")
    seal_audit_log(key=KEY)
    db.execute("UPDATE audit_log SET actor = ? WHERE id = ?", ["mallory", 12])
    db.execute("DELETE FROM audit_log WHERE id = ?", [2500])
    bad = forge(project, audit_db, "audit:verify", AUDIT_SEAL_KEY=KEY)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stdout.startswith("[ERREUR] Journal altéré : 2 anomalie(s).")
    assert "  - Entrées modifiées (id) : 12" in bad.stdout
    assert "  - Entrées supprimées (id) : 2500" in bad.stdout
    wrong = forge(project, audit_db, "audit:verify", AUDIT_SEAL_KEY="autre")
    assert wrong.returncode == 1
    assert "Scellement n°1 : MAC invalide (clé erronée ou scellement forgé)." in wrong.stdout
