"""`forge audit:show` et `forge audit:export` : appelés en processus (main(args)) sur les
trois backends, et par le vrai exécutable `forge` dans un projet Forge minimal."""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import pytest
from core.database import db

from audit_rows import insert_rows
from conftest import Backend, apply_migrations, maria_admin, pg_admin
from forge_mvc_audit import (
    AUDIT_EXPORT_COLUMNS,
    count_audit,
    entry_to_row,
    get_audit_log,
    record_audit,
    write_audit_export,
)
from forge_mvc_audit.cli import export as export_cli
from forge_mvc_audit.cli import show as show_cli

FORGE = str(Path(sys.executable).parent / "forge")
SRC = Path(__file__).resolve().parent.parent / "src"


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line]


@pytest.fixture
def cli(
    audit_db: Backend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Lance une commande en processus ; rend (code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "100")
    mains = {"show": show_cli.main, "export": export_cli.main}

    def run(command: str, *args: str) -> Run:
        capsys.readouterr()
        code = mains[command](list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


# ---------------------------------------------------------------- audit:show


def test_show_pages_through_everything_with_the_printed_command(cli: Any) -> None:
    insert_rows({"actor": "prof", "action": f"a{i}"} for i in range(23))
    insert_rows({"actor": "autre"} for _ in range(5))
    wanted = [e.id for e in get_audit_log(actor="prof")]
    args = ["--actor", "prof", "--limit", "10"]
    seen: list[int] = []
    for _ in range(10):
        result = cli("show", *args)
        assert result.code == 0 and result.err == ""
        lines = result.out.splitlines()
        assert lines[0].split()[:2] == ["ID", "DATE"]
        seen.extend(int(line.split()[0]) for line in lines[1:-1])
        footer = lines[-1]
        assert footer.startswith("[INFO] ")
        if "Page suivante : " not in footer:
            assert "fin de la sélection" in footer
            break
        command = shlex.split(footer.split("Page suivante : ", 1)[1])
        assert command[:2] == ["forge", "audit:show"]
        args = command[2:]
        record_audit("pendant", actor="prof")  # le journal grandit entre deux pages
    assert seen == wanted


@pytest.mark.parametrize("actor", ["l'élève \\ x", "evil\x1b[2J\n\u202e", "-tiret"])
def test_next_page_command_replays_exactly_in_a_shell(cli: Any, actor: str) -> None:
    for i in range(3):
        record_audit(f"a{i}", actor=actor)
    record_audit("autre", actor="autre")
    first = cli("show", f"--actor={actor}", "--limit", "2")
    footer = first.out.splitlines()[-1]
    assert "\x1b" not in footer and "\u202e" not in footer
    command = footer.split("Page suivante : ", 1)[1]
    parsed = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command}"], capture_output=True, text=True, check=True
    ).stdout.split("\0")[:-1]
    assert parsed[:2] == ["forge", "audit:show"]
    second = cli("show", *parsed[2:], "--json")
    assert [json.loads(line)["action"] for line in second.out.splitlines()] == ["a0"]


def test_show_json_is_pure_json_lines_on_stdout(cli: Any) -> None:
    insert_rows([{"actor": "a", "request_id": "req-9", "ip": "10.0.0.1", "details": '{"x": 1}'}])
    record_audit("b", actor="é\x1b[2J", details="l1\nl2\u202e")
    result = cli("show", "--json", "--limit", "1")
    lines = result.out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == entry_to_row(get_audit_log(limit=1)[0])
    assert "\x1b" not in result.out and "\u202e" not in result.out
    assert "--json --before-id" in result.err and result.err.startswith("[INFO]")
    everything = cli("show", "--json")
    decoded = [json.loads(line) for line in everything.out.splitlines()]
    assert decoded == [entry_to_row(e) for e in get_audit_log()]
    assert decoded[1]["request_id"] == "req-9"


def test_show_escapes_control_characters(cli: Any) -> None:
    record_audit(
        "connexion\x1b]0;titre\x07",
        actor="evil\x1b[2J\x1b[H",
        target_type="note",
        target_id="7\r",
        details="ligne1\nligne2\x9b31m\u202eRTL\x08",
    )
    result = cli("show")
    assert result.code == 0
    for raw in ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x08"):
        assert raw not in result.out
    assert result.out.count("\n") == 3  # en-tête, une entrée, pied : rien n'a sauté de ligne
    assert "evil\\x1b[2J\\x1b[H" in result.out
    assert "note:7\\r" in result.out


def test_show_empty_selection(cli: Any) -> None:
    record_audit("x", actor="a")
    result = cli("show", "--actor", "personne")
    assert result.code == 0
    assert result.out == "[INFO] Aucune entrée ne correspond à cette sélection.\n"


def test_show_fits_a_narrow_terminal(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    record_audit("note.modifiee", actor="prof.dupont" * 10, details="d" * 500)
    monkeypatch.setenv("COLUMNS", "72")
    lines = cli("show").out.splitlines()
    assert all(len(line) <= 72 for line in lines[:-1])
    assert "…" in lines[1]


# -------------------------------------------------------------- audit:export


def _reference(fmt: str, **filters: object) -> str:
    buffer = io.StringIO(newline="")
    write_audit_export(buffer, format=fmt, **filters)  # type: ignore[arg-type]
    return buffer.getvalue()


def _seed_varied() -> None:
    insert_rows(
        {
            "actor": f"u{i % 4}",
            "action": "=1+1" if i % 9 == 0 else f"act{i % 3}",
            "target_type": "note",
            "target_id": str(i),
            "details": 'a,"b"\nc' if i % 5 == 0 else None,
            "created_at": f"2026-0{1 + i % 3}-0{1 + i % 9} 10:00:00",
        }
        for i in range(1100)
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_to_stdout_is_pure_data(cli: Any, fmt: str) -> None:
    _seed_varied()
    result = cli("export", "--format", fmt, "--actor", "u1", "--since", "2026-02-01")
    assert result.code == 0
    assert result.out == _reference(fmt, actor="u1", since="2026-02-01")
    count = count_audit(actor="u1", since="2026-02-01")
    assert result.err == f"[OK] {count} entrées exportées vers la sortie standard.\n"


def test_export_to_a_file(cli: Any, tmp_path: Path) -> None:
    _seed_varied()
    target = tmp_path / "audit.csv"
    result = cli("export", "--output", str(target))
    assert result.code == 0 and result.err == ""
    assert result.out == f"[OK] 1100 entrées exportées vers {target}\n"
    assert target.read_bytes() == _reference("csv").encode("utf-8")
    with target.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == list(AUDIT_EXPORT_COLUMNS) and len(rows) == 1101
    assert _leftovers(tmp_path) == []


def test_export_of_one_or_no_entry_says_so_in_french(cli: Any, tmp_path: Path) -> None:
    target = tmp_path / "vide.jsonl"
    result = cli("export", "--format", "jsonl", "--output", str(target))
    assert result.out == f"[OK] 0 entrée exportée vers {target}\n"
    assert target.read_text() == ""
    record_audit("un")
    assert cli("export").err == "[OK] 1 entrée exportée vers la sortie standard.\n"


class _Boom(Exception):
    pass


@pytest.mark.parametrize(
    ("failure", "code", "message"),
    [
        (_Boom("disque plein"), 1, "disque plein"),
        (KeyboardInterrupt(), 130, "interrompu"),
        (OSError(28, "No space left on device"), 1, "No space left"),
    ],
)
def test_interrupted_export_leaves_no_file_and_keeps_the_previous_one(
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    code: int,
    message: str,
) -> None:
    _seed_varied()
    fresh = tmp_path / "nouveau.csv"
    previous = tmp_path / "ancien.csv"
    previous.write_text("export précédent, complet\n")

    def failing(out: TextIO, **kwargs: Any) -> int:
        def rows_then_fail(count: int) -> None:
            if count >= 500:
                raise failure

        return write_audit_export(out, **{**kwargs, "progress": rows_then_fail, "batch_size": 100})

    monkeypatch.setattr(export_cli, "write_audit_export", failing)
    for target in (fresh, previous):
        result = cli("export", "--output", str(target))
        assert result.code == code
        assert len(result.error_lines) == 1 and result.error_lines[0].startswith("[ERREUR] ")
        assert message in result.err
        assert "Traceback" not in result.err
    assert not fresh.exists()
    assert previous.read_text() == "export précédent, complet\n"
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------ mauvais arguments

BOTH = ["show", "export"]
BAD_ARGS: list[tuple[list[str], int, str]] = [
    (["--inconnue"], 2, "argument inconnu : --inconnue"),
    (["positionnel"], 2, "argument inconnu : positionnel"),
    (["--act", "x"], 2, "argument inconnu"),  # pas d'abréviation
    (["--actor"], 2, "l'option --actor attend une valeur"),
    (["--actor", ""], 2, "--actor : valeur vide"),
    (["--actor", "a", "--actor", "b"], 2, "--actor : option donnée deux fois"),
    (["--since", "hier"], 2, "--since : date illisible 'hier'"),
    (["--until", "2026-02-30"], 2, "AAAA-MM-JJ"),
    (["--since", "2026-01-05T10:00:00"], 2, '"AAAA-MM-JJ HH:MM:SS"'),
    (["--since", "2026-02-01", "--until", "2026-01-31"], 1, "since (2026-02-01)"),
    (["--before-id", "abc"], 2, "--before-id : entier attendu"),
    (["--before-id", "0"], 2, "--before-id : doit être entre 1"),
    (["--before-id=-3"], 2, "--before-id : entier attendu"),
    (["--before-id", "99999999999999999999"], 2, "--before-id : doit être entre 1"),
    (["--target", ":7"], 2, "--target : TYPE manquant"),
    (["--target", "note:"], 2, "--target : ID vide"),
    (["--json=oui"], 2, "argument inconnu"),
]
SHOW_ONLY: list[tuple[list[str], int, str]] = [
    (["--limit", "dix"], 2, "--limit : entier attendu entre 1 et 1000"),
    (["--limit", "0"], 2, "--limit : doit être entre 1 et 1000"),
    (["--limit", "1001"], 2, "--limit : doit être entre 1 et 1000 (reçu : 1001)"),
    (["--limit", "2.5"], 2, "--limit : entier attendu"),
    (["--json=oui"], 2, "l'option --json ne prend pas de valeur"),
    (["--format", "csv"], 2, "argument inconnu : --format"),
]
EXPORT_ONLY: list[tuple[list[str], int, str]] = [
    (["--format", "xml"], 2, "--format : format inconnu 'xml' ; formats possibles : csv, jsonl"),
    (["--format"], 2, "l'option --format attend une valeur"),
    (["--limit", "5"], 2, "argument inconnu : --limit 5"),
    (["--output", "/proc/audit.csv"], 1, "--output : impossible d'écrire dans /proc"),
    (["--output", "/inexistant/dossier/audit.csv"], 1, "--output : le dossier /inexistant/dossier"),
    (["--output", "/tmp"], 1, "--output désigne un dossier"),
]


def _matrix() -> list[Any]:
    cases: list[Any] = []
    for args, code, message in BAD_ARGS:
        for command in BOTH:
            if command == "show" and args == ["--json=oui"]:
                continue
            cases.append(pytest.param(command, args, code, message, id=f"{command}{args}"))
    cases += [pytest.param("show", *case, id=f"show{case[0]}") for case in SHOW_ONLY]
    cases += [pytest.param("export", *case, id=f"export{case[0]}") for case in EXPORT_ONLY]
    return cases


@pytest.mark.parametrize(("command", "args", "code", "message"), _matrix())
def test_bad_argument_is_one_french_error_line(
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    record_audit("existant")
    monkeypatch.chdir(tmp_path)
    result = cli(command, *args)
    assert result.code == code, result.err
    assert result.out == ""
    assert len(result.error_lines) == 1, result.err
    assert result.error_lines[0].startswith("[ERREUR] ")
    assert message in result.error_lines[0]
    assert list(tmp_path.iterdir()) == []
    assert count_audit() == 1


@pytest.mark.parametrize("command", BOTH)
def test_missing_table_is_one_clear_error(cli: Any, command: str, tmp_path: Path) -> None:
    db.execute("DROP TABLE audit_log")
    try:
        args = ["--output", str(tmp_path / "x.csv")] if command == "export" else []
        result = cli(command, *args)
    finally:
        apply_migrations("")
    assert result.code == 1
    assert result.error_lines == [
        "[ERREUR] La table audit_log est absente de la base : lancez `forge audit:init` "
        "puis `forge migration:apply`."
    ]
    assert list(tmp_path.iterdir()) == []


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE audit_log; --",
    "1) OR (1=1",
    "\\'; DELETE FROM audit_log; --",
    "%' OR 1=1 --",
    "x' UNION SELECT 1,2,3,4,5,6,7,8,9 --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_in_every_option_change_nothing(cli: Any, payload: str) -> None:
    insert_rows({"actor": "prof", "request_id": "r"} for _ in range(4))
    for option in ("--actor", "--action", "--target", "--request-id"):
        shown = cli("show", f"{option}={payload}")
        assert shown.code == 0, shown.err
        assert shown.out == "[INFO] Aucune entrée ne correspond à cette sélection.\n"
        exported = cli("export", f"{option}={payload}", "--format", "jsonl")
        assert (exported.code, exported.out) == (0, "")
    for option in ("--since", "--until", "--before-id", "--limit", "--format"):
        for command in BOTH:
            result = cli(command, f"{option}={payload}")
            assert result.code == 2 and result.out == ""
    assert count_audit() == 4
    record_audit("trace", actor=payload, target_type="t", target_id=payload)
    shown = cli("show", f"--actor={payload}", "--json")
    assert [json.loads(line)["actor"] for line in shown.out.splitlines()] == [payload]
    target = cli("export", f"--target=t:{payload}", "--format", "jsonl")
    assert [json.loads(line)["target_id"] for line in target.out.splitlines()] == [payload]


# ------------------------------------------- le vrai exécutable `forge`


def _project(folder: Path, backend: Backend, **overrides: str) -> Path:
    """Le projet Forge minimal que `config: True` exige : config.py et env/dev."""
    (folder / "env").mkdir(parents=True, exist_ok=True)
    (folder / "config.py").write_text(
        'from dotenv import load_dotenv\nload_dotenv("env/dev", override=True)\n'
    )
    settings = {**backend.env, **overrides}
    (folder / "env" / "dev").write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    return folder


def _forge_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "90"
    return env


def forge(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FORGE, *args], cwd=cwd, env=_forge_env(), capture_output=True, text=True, timeout=120
    )


def _read_terminal(leader: int) -> str:
    """Tout ce qu'un processus a écrit sur le pseudo-terminal, jusqu'à sa fermeture."""
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO : le processus a fermé le terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return b"".join(chunks).decode("utf-8")


def _sqlite_journal(path: Path, rows: int, **first: str) -> Backend:
    """Un journal SQLite hors du banc : `rows` entrées, la première avec les champs `first`."""
    connection = sqlite3.connect(path)
    folder = Path(__file__).resolve().parent.parent / "migrations" / "sqlite"
    for migration in sorted(folder.glob("*.sql")):
        connection.executescript(migration.read_text())
    values = [{"action": "x", "target_id": str(i)} for i in range(rows)]
    values[0].update(first)
    for row in values:
        connection.execute(
            f"INSERT INTO audit_log ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
            list(row.values()),
        )
    connection.commit()
    connection.close()
    return Backend("sqlite", {"DB_BACKEND": "sqlite", "DB_NAME": str(path)})


def test_real_forge_show_and_export(audit_db: Backend, tmp_path: Path) -> None:
    project = _project(tmp_path / "projet", audit_db)
    _seed_varied()
    record_audit("connexion", actor="evil\x1b[2J", details='=HYPERLINK("x")')
    shown = forge(project, "audit:show", "--limit", "3")
    assert shown.returncode == 0, shown.stderr
    assert "evil\\x1b[2J" in shown.stdout and "\x1b" not in shown.stdout
    assert "--limit 3 --before-id" in shown.stdout.splitlines()[-1]
    target = project / "export.csv"
    exported = forge(project, "audit:export", "--output", "export.csv", "--until", "2026-02-05")
    assert exported.returncode == 0, exported.stderr
    assert (
        exported.stdout
        == f"[OK] {count_audit(until='2026-02-05')} entrées exportées vers export.csv\n"
    )
    assert target.read_bytes() == _reference("csv", until="2026-02-05").encode()
    piped = forge(project, "audit:export", "--format", "jsonl", "--action", "connexion")
    assert json.loads(piped.stdout)["details"] == '=HYPERLINK("x")'
    assert piped.stderr == "[OK] 1 entrée exportée vers la sortie standard.\n"


@pytest.mark.fast
@pytest.mark.parametrize("command", ["audit:show", "audit:export"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_real_forge_help_prints_and_does_nothing(tmp_path: Path, command: str, flag: str) -> None:
    # Base absente : la commande échouerait si elle lisait quoi que ce soit.
    project = _project(
        tmp_path, Backend("sqlite", {"DB_BACKEND": "sqlite", "DB_NAME": "absente.db"})
    )
    result = forge(project, command, flag, "--output", "x.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:\n  forge " + command)
    assert "--since" in result.stdout and "--before-id" in result.stdout
    assert sorted(p.name for p in project.iterdir()) == ["config.py", "env"]


@pytest.mark.fast
@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["audit:show", "--inconnue"], 2, "[ERREUR] argument inconnu : --inconnue"),
        (["audit:show", "--since", "01/02/2026"], 2, "[ERREUR] --since : date illisible"),
        (
            ["audit:export", "--since", "2026-02-02", "--until", "2026-02-01"],
            1,
            "[ERREUR] Période inversée : since (2026-02-02) est après until (2026-02-01)",
        ),
        (["audit:show", "--limit", "beaucoup"], 2, "[ERREUR] --limit : entier attendu"),
        (["audit:export", "--output", "/proc/x.csv"], 1, "[ERREUR] --output : impossible"),
        (["audit:export", "--format", "xlsx"], 2, "[ERREUR] --format : format inconnu"),
        (["audit:show"], 1, "[ERREUR] La table audit_log est absente"),
        (["audit:export", "--output", "x.csv"], 1, "[ERREUR] La table audit_log est absente"),
    ],
)
def test_real_forge_bad_arguments(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    sqlite3.connect(tmp_path / "sans_table.db").close()
    project = _project(
        tmp_path, Backend("sqlite", {"DB_BACKEND": "sqlite", "DB_NAME": "sans_table.db"})
    )
    result = forge(project, *args)
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in project.iterdir()) == ["config.py", "env", "sans_table.db"]


@pytest.mark.fast
def test_real_forge_export_fails_cleanly_on_a_locked_database(tmp_path: Path) -> None:
    path = tmp_path / "audit.db"
    project = _project(tmp_path / "projet", _sqlite_journal(path, 1), DB_POOL_TIMEOUT="0.2")
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")  # aucune lecture possible
    try:
        result = forge(project, "audit:export", "--output", "audit.csv")
    finally:
        connection.execute("ROLLBACK")
        connection.close()
    assert result.returncode == 1
    assert result.stderr.startswith("[ERREUR] ") and "locked" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "projet").iterdir()) == ["config.py", "env"]


@contextmanager
def _table_locked(backend: Backend) -> Iterator[None]:
    """Aucune lecture possible d'audit_log tant que le bloc dure (autre connexion)."""
    name = backend.env["DB_NAME"]
    if backend.name == "sqlite":
        connection = sqlite3.connect(name, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
    elif backend.name == "postgres":
        with pg_admin(name) as admin:
            admin.execute("BEGIN")
            admin.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
            try:
                yield
            finally:
                admin.execute("ROLLBACK")
    else:
        admin = maria_admin(name)
        cursor = admin.cursor()
        cursor.execute("LOCK TABLES audit_log WRITE")
        try:
            yield
        finally:
            cursor.execute("UNLOCK TABLES")
            admin.close()


def test_real_forge_export_killed_midway_leaves_no_file(audit_db: Backend, tmp_path: Path) -> None:
    """SIGTERM pendant l'export (tenu en attente par un verrou) : ni fichier final, ni
    temporaire, et le message le dit."""
    insert_rows({"target_id": str(i)} for i in range(10))
    project = _project(tmp_path, audit_db, DB_POOL_TIMEOUT="60")
    with _table_locked(audit_db):
        process = subprocess.Popen(
            [FORGE, "audit:export", "--output", "audit.csv"],
            cwd=project,
            env=_forge_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not _leftovers(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _leftovers(project), "le fichier temporaire n'est jamais apparu"
        time.sleep(0.3)  # la lecture attend le verrou
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    # Verrou levé : un pilote bloqué dans du C rend la main, le signal est traité.
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    # (le pool psycopg journalise aussi la connexion coupée : ce n'est pas notre sortie)
    errors = [line for line in err.splitlines() if line.startswith("[ERREUR]")]
    assert errors == ["[ERREUR] Export interrompu ; aucun fichier écrit."], err
    assert "Traceback" not in err and out == ""
    assert sorted(p.name for p in project.iterdir()) == ["config.py", "env"]


@pytest.mark.fast
def test_progress_shows_count_and_rate_at_most_twice_a_second() -> None:
    ticks = iter([100.0, 100.2, 100.6, 100.7, 101.2])
    stream = io.StringIO()
    progress = export_cli._progress(stream, clock=lambda: next(ticks))  # pyright: ignore[reportPrivateUsage]
    progress(1000)  # 0,2 s : trop tôt
    assert stream.getvalue() == ""
    progress(3000)  # 0,6 s
    progress(3500)  # 0,7 s : trop tôt
    progress(12000)  # 1,2 s
    progress.clear()
    assert stream.getvalue() == (
        "\r[INFO] 3 000 entrées… (5 000/s)\r[INFO] 12 000 entrées… (10 000/s)\r\x1b[K"
    )


def test_export_dash_means_stdout(cli: Any) -> None:
    record_audit("un", actor="-moins")
    result = cli("export", "--output", "-", "--actor=-moins")
    assert result.code == 0
    assert result.out == _reference("csv", actor="-moins")
    assert "'-moins" in result.out


@pytest.mark.fast
def test_real_forge_export_to_a_terminal_is_escaped(tmp_path: Path) -> None:
    """Sur un terminal, même l'export ne laisse rien passer de brut ; dans un tube, si."""
    import pty

    backend = _sqlite_journal(
        tmp_path / "audit.db", 1, actor="evil\x1b[2J", details="l1\nl2\x9b\u202e"
    )
    project = _project(tmp_path / "projet", backend)
    for fmt in ("csv", "jsonl"):
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [FORGE, "audit:export", "--format", fmt],
            cwd=project,
            env=_forge_env(),
            stdout=follower,
            stderr=subprocess.PIPE,
        )
        os.close(follower)
        shown = _read_terminal(leader)
        process.wait(timeout=60)
        assert process.returncode == 0
        assert "evil\\x1b[2J" in shown or "evil\\u001b[2J" in shown, shown
        for raw in ("\x1b", "\x9b", "\u202e"):
            assert raw not in shown
    piped = forge(project, "audit:export")
    assert "evil\x1b[2J" in piped.stdout  # dans un tube : la valeur exacte


@pytest.mark.fast
def test_real_forge_export_shows_progress_on_a_terminal(tmp_path: Path) -> None:
    """stderr sur un terminal : compteur et débit, effacés à la fin ; le fichier est complet."""
    import pty

    backend = _sqlite_journal(tmp_path / "audit.db", 2500)
    project = _project(tmp_path / "projet", backend, DB_POOL_TIMEOUT="60")
    leader, follower = pty.openpty()
    with _table_locked(backend):  # le premier lot attend : la progression a le temps de paraître
        process = subprocess.Popen(
            [FORGE, "audit:export", "--output", "audit.csv"],
            cwd=project,
            env=_forge_env(),
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
        )
        os.close(follower)
        deadline = time.monotonic() + 60
        while not _leftovers(project) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)
    out, _ = process.communicate(timeout=60)
    shown = _read_terminal(leader)
    assert process.returncode == 0, shown
    assert out == "[OK] 2500 entrées exportées vers audit.csv\n"
    assert "\r[INFO] 1 000 entrées… (" in shown and "/s)" in shown
    assert shown.endswith("\r\x1b[K")
    assert len((project / "audit.csv").read_text().splitlines()) == 2501
