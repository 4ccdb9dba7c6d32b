"""Le parcours d'un nouvel utilisateur, pour de vrai, dans un projet Forge neuf.

Une roue de ce paquet est construite une fois par session, puis chaque test
crée un projet (`forge new demo`), installe dans le `.venv` du projet un
backend, forge-mvc-entities et la roue, et enchaîne les commandes documentées :

    forge db:config ; forge db:init --run ; forge audit:init ;
    forge migration:apply ; python -c "import config; ... record_audit ..."

Deux backends : SQLite (aucun serveur) et PostgreSQL (base jetable créée et
supprimée ici ; serveur absent : skip, ou échec avec AUDIT_REQUIRE_SERVERS=1).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parent.parent
FORGE = Path(sys.executable).with_name("forge")
REQUIRE_SERVERS = os.environ.get("AUDIT_REQUIRE_SERVERS") == "1"

#: Délais des sous-processus, en secondes.
TIMEOUT_CMD = 120
TIMEOUT_PIP = 600

#: Migrations attendues dans la roue et copiées par `forge audit:init`.
BACKENDS = ("sqlite", "postgres", "mariadb", "mssql")

# Le script lancé avec le python du projet, depuis sa racine : `import config`
# charge env/dev, puis deux écritures et une relecture, rendues en JSON.
SNIPPET = """\
import dataclasses, json
import config  # charge env/dev
from forge_mvc_audit import get_audit_log, record_audit

first = record_audit(
    "eleve.cree", actor="prof.martin", target_type="eleve", target_id="42",
    details="Léa Dupont, 4e B",
)
second = record_audit(
    "note.modifiee", actor="prof.martin", target_type="note", target_id="7",
    details="12 -> 15",
)
entries = get_audit_log(limit=10)
print("@@JSON@@" + json.dumps({
    "ids": [first, second],
    "entries": [dataclasses.asdict(e) for e in entries],
}, ensure_ascii=False))
"""


# --------------------------------------------------------------------------
# Sous-processus


def _clean_env(venv: Path | None = None) -> dict[str, str]:
    """L'environnement d'un utilisateur : sans DB_* hérités ni venv actif.

    Le banc commun (conftest) pose DB_BACKEND, DB_NAME... dans os.environ du
    processus pytest. config.py charge env/dev avec override=True, mais une clé
    qu'env/dev ne déclare pas (DB_BACKEND, DB_HOST d'un projet SQLite) passerait
    telle quelle dans le projet.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DB_")
        and key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")
    }
    env["PYTHONIOENCODING"] = "utf-8"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


@dataclass
class Result:
    args: Sequence[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (
            f"$ {' '.join(map(str, self.args))}\n"
            f"code de sortie : {self.returncode} ({self.seconds:.1f} s)\n"
            f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"
        )


def run(
    args: Sequence[str | Path],
    *,
    cwd: Path,
    venv: Path | None = None,
    timeout: float = TIMEOUT_CMD,
    check: bool = True,
) -> Result:
    """Lance une commande ; en cas d'échec, l'assertion montre toute sa sortie."""
    argv = [str(a) for a in args]
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=_clean_env(venv),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(
            f"$ {' '.join(argv)}\ndélai de {timeout} s dépassé\n"
            f"--- stdout ---\n{_text(error.stdout)}\n--- stderr ---\n{_text(error.stderr)}"
        )
    result = Result(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)
    if check:
        assert result.returncode == 0, result.describe()
    return result


# --------------------------------------------------------------------------
# La roue, une fois par session


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Roue de ce paquet, construite depuis le dépôt comme le ferait un éditeur."""
    out = tmp_path_factory.mktemp("wheel")
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, REPO_ROOT],
        cwd=out,
        timeout=TIMEOUT_PIP,
    )
    wheels = sorted(out.glob("forge_mvc_audit-*.whl"))
    assert len(wheels) == 1, f"une roue attendue dans {out}, trouvé : {list(out.iterdir())}"
    return wheels[0]


def _wheel_names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def _wheel_migrations(wheel: Path, backend: str) -> dict[str, bytes]:
    prefix = f"forge_mvc_audit/migrations/{backend}/"
    with zipfile.ZipFile(wheel) as archive:
        return {
            name.removeprefix(prefix): archive.read(name)
            for name in archive.namelist()
            if name.startswith(prefix) and name.endswith(".sql")
        }


def test_wheel_bundles_migrations_and_py_typed(wheel: Path) -> None:
    names = _wheel_names(wheel)
    assert "forge_mvc_audit/py.typed" in names, names
    for backend in BACKENDS:
        bundled = _wheel_migrations(wheel, backend)
        source = REPO_ROOT / "migrations" / backend
        committed = {p.name: p.read_bytes() for p in source.glob("*.sql")}
        assert committed, f"aucune migration versionnée pour {backend}"
        assert bundled == committed, f"migrations {backend} de la roue != dépôt : {sorted(bundled)}"


# --------------------------------------------------------------------------
# Le projet neuf


@dataclass
class Project:
    root: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def forge(self, *args: str, check: bool = True) -> Result:
        return run([self.venv / "bin" / "forge", *args], cwd=self.root, venv=self.venv, check=check)

    def set_env(self, values: dict[str, str]) -> None:
        """Renseigne des clés de env/dev (remplace la ligne, ou l'ajoute)."""
        path = self.root / "env" / "dev"
        text = path.read_text(encoding="utf-8")
        for key, value in values.items():
            pattern = re.compile(rf"(?m)^{re.escape(key)}=.*$")
            if pattern.search(text):
                text = pattern.sub(lambda _m, k=key, v=value: f"{k}={v}", text)
            else:
                text = text.rstrip("\n") + f"\n{key}={value}\n"
        path.write_text(text, encoding="utf-8")


def new_project(parent: Path, backend_package: str, wheel: Path) -> Project:
    """`forge new demo`, puis le backend, forge-mvc-entities et la roue dans son .venv."""
    assert FORGE.exists(), f"exécutable forge introuvable à côté de {sys.executable}"
    run([FORGE, "new", "demo"], cwd=parent, timeout=TIMEOUT_PIP)
    root = parent / "demo"
    venv = root / ".venv"
    assert (root / "config.py").is_file(), f"forge new n'a pas créé {root}/config.py"
    assert (venv / "bin" / "python").exists(), f"forge new n'a pas créé {venv}"
    run(
        [
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--pre",
            backend_package,
            "forge-mvc-entities",
            wheel,
        ],
        cwd=root,
        venv=venv,
        timeout=TIMEOUT_PIP,
    )
    return Project(root, venv)


def audit_init_and_apply(project: Project, backend: str, wheel: Path) -> None:
    """`forge audit:init` (copie, puis idempotence) et `forge migration:apply`."""
    expected = _wheel_migrations(wheel, backend)
    assert expected, f"aucune migration {backend} dans la roue"

    first = project.forge("audit:init")
    assert "[OK]" in first.stdout, first.describe()
    migrations = project.root / "mvc" / "migrations"
    copied = {p.name: p.read_bytes() for p in migrations.glob("*.sql")}
    assert copied == expected, (
        f"mvc/migrations/ != migrations/{backend} de la roue : {sorted(copied)}\n{first.describe()}"
    )

    applied = project.forge("migration:apply")
    assert "[OK]" in applied.stdout, applied.describe()
    for name in expected:
        assert name in applied.stdout, applied.describe()

    # Relancé : rien n'est réécrit, chaque fichier est signalé identique.
    before = {p: p.stat().st_mtime_ns for p in migrations.glob("*.sql")}
    again = project.forge("audit:init")
    assert again.returncode == 0, again.describe()
    for name in expected:
        assert re.search(rf"\[OK\].*identique.*{re.escape(name)}", again.stdout), again.describe()
    assert "[WARN]" not in again.stdout and "[ERREUR]" not in again.stdout, again.describe()
    assert {p: p.stat().st_mtime_ns for p in migrations.glob("*.sql")} == before

    # Et migration:apply n'a plus rien à faire.
    reapplied = project.forge("migration:apply")
    assert "[EXECUTE]" not in reapplied.stdout, reapplied.describe()


def record_and_read(project: Project) -> None:
    """Le snippet, par le python du projet : deux écritures, relues, la plus récente d'abord."""
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    result = run([project.python, "-c", SNIPPET], cwd=project.root, venv=project.venv)
    after = datetime.now(UTC) + timedelta(seconds=2)
    marker = [line for line in result.stdout.splitlines() if line.startswith("@@JSON@@")]
    assert len(marker) == 1, result.describe()
    payload: dict[str, Any] = json.loads(marker[0].removeprefix("@@JSON@@"))

    first_id, second_id = payload["ids"]
    assert isinstance(first_id, int) and isinstance(second_id, int), payload
    assert second_id > first_id, payload
    entries: list[dict[str, Any]] = payload["entries"]
    assert [e["id"] for e in entries] == [second_id, first_id], payload

    newest, oldest = entries
    assert {k: newest[k] for k in ("action", "actor", "target_type", "target_id", "details")} == {
        "action": "note.modifiee",
        "actor": "prof.martin",
        "target_type": "note",
        "target_id": "7",
        "details": "12 -> 15",
    }, payload
    assert {k: oldest[k] for k in ("action", "actor", "target_type", "target_id", "details")} == {
        "action": "eleve.cree",
        "actor": "prof.martin",
        "target_type": "eleve",
        "target_id": "42",
        "details": "Léa Dupont, 4e B",
    }, payload
    for entry in entries:
        assert entry["request_id"] is None and entry["ip"] is None, payload
        created = entry["created_at"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", created), payload
        moment = datetime.strptime(created, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert before <= moment <= after, (
            f"created_at {created} hors de [{before:%H:%M:%S}, {after:%H:%M:%S}] UTC : {payload}"
        )


# --------------------------------------------------------------------------
# SQLite


def test_new_project_sqlite(tmp_path: Path, wheel: Path) -> None:
    project = new_project(tmp_path, "forge-mvc-sqlite", wheel)

    config = project.forge("db:config")
    assert "DB_NAME" in config.stdout, config.describe()
    init = project.forge("db:init", "--run")
    assert "[OK]" in init.stdout, init.describe()

    audit_init_and_apply(project, "sqlite", wheel)
    record_and_read(project)


# --------------------------------------------------------------------------
# PostgreSQL


def _pg_settings() -> dict[str, str]:
    return {
        "host": os.environ.get("AUDIT_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("AUDIT_PG_PORT", "5432"),
        "user": os.environ.get("AUDIT_PG_USER", "postgres"),
        "password": os.environ.get("AUDIT_PG_PASSWORD", ""),
    }


def _pg_admin() -> Any:
    import psycopg

    s = _pg_settings()
    return psycopg.connect(
        host=s["host"],
        port=int(s["port"]),
        user=s["user"],
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    )


@pytest.fixture
def pg_database() -> Iterator[str]:
    """Une base PostgreSQL jetable (template0), supprimée avec WITH (FORCE)."""
    name = f"forge_audit_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with _pg_admin() as conn:
            conn.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0")
    except Exception as error:
        message = f"PostgreSQL injoignable sur {_pg_settings()} : {error}"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield name
    finally:
        with _pg_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_new_project_postgres(tmp_path: Path, wheel: Path, pg_database: str) -> None:
    project = new_project(tmp_path, "forge-mvc-postgres", wheel)

    config = project.forge("db:config")
    for key in ("DB_NAME", "DB_HOST", "DB_PORT", "DB_ADMIN_LOGIN", "DB_APP_LOGIN"):
        assert key in config.stdout, config.describe()

    s = _pg_settings()
    # Mots de passe : AUDIT_PG_PASSWORD s'il y en a un ; sinon le serveur est en
    # « trust » et ne le demande pas, mais il doit être NON VIDE.
    # forge-mvc-postgres 1.0.0rc9 refuse le vide à deux endroits : `db:init`
    # (« Configuration de la base incomplète ... DB_ADMIN_PWD, DB_APP_PWD ») et
    # la connexion d'exécution, dont la chaîne `password= options='-c
    # lock_timeout=...'` devient illisible pour libpq (le pool abandonne après
    # DB_POOL_TIMEOUT : « couldn't get a connection after 5.00 sec »).
    password = s["password"] or "trust"
    project.set_env(
        {
            "DB_NAME": pg_database,
            "DB_HOST": s["host"],
            "DB_PORT": s["port"],
            "DB_ADMIN_LOGIN": s["user"],
            "DB_ADMIN_PWD": password,
            "DB_APP_LOGIN": s["user"],
            "DB_APP_PWD": password,
        }
    )

    # La base existe déjà : db:init la trouve, et crée le registre forge_migrations
    # sans lequel migration:apply refuse de travailler.
    init = project.forge("db:init", "--run")
    assert "[OK]" in init.stdout and "forge_migrations" in init.stdout, init.describe()
    assert "déjà présente" in init.stdout, init.describe()

    audit_init_and_apply(project, "postgres", wheel)
    record_and_read(project)
