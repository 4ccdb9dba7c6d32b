"""Entrées hostiles, générées par hypothesis, sur toute l'API publique et la CLI.

Unicode de tous les plans, NUL, surrogates isolés, chaînes de 1 Mio, mauvais
types, entiers énormes, injections SQL. Pour chaque valeur : soit elle fait
l'aller-retour exact (relue à l'identique, retrouvée par les filtres, les
lectures rendent exactement ce qu'un calcul en Python sur la table prévoit),
soit `AuditError` (ou une ligne `[ERREUR]` pour la CLI) est levée avant toute
écriture. La décision est notée par valeur : un autre backend qui décide
autrement fait échouer le test. Après chaque test, la table (colonnes, index,
tables de la base) est intacte.

Les exemples sont dérandomisés (profil `forge-audit-hostile`) : chaque backend
voit la même suite de valeurs, ce qui rend la comparaison des décisions totale.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from core.database import db
from core.database.backend import get_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import forge_mvc_audit
from conftest import Backend
from forge_mvc_audit import (
    AuditEntry,
    AuditError,
    count_audit,
    create_table_sql,
    get_audit_log,
    record_audit,
)
from forge_mvc_audit.commands import COMMANDS
from forge_mvc_audit.details import encode_details

PROFILE = "forge-audit-hostile"
settings.register_profile(
    PROFILE,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)


def hostile(examples: int) -> settings:
    return settings(settings.get_profile(PROFILE), max_examples=examples)


# --------------------------------------------------------------------------
# Valeurs hostiles
# --------------------------------------------------------------------------

PAYLOADS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfff",
    "\U0010ffff",
    "😀" * 95,
    "😀" * 96,
    "e\u0301",
    "\u202egnp.exe",
    "\r\n",
    "\x1b[31mrouge\x1b[0m",
    "'; DROP TABLE audit_log; --",
    '" OR 1=1 --',
    "1' OR '1'='1",
    "Robert'); DELETE FROM audit_log WHERE ('1'='1",
    "%",
    "_",
    "\\",
    "?",
    "$1",
    ":name",
    "%s",
    "/* */",
    "`",
    "NULL",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x")',
    "A",
    "a",
    "a ",
    "é",
    "É",
    "ß",
    "ss",
]


class Opaque:
    """Un objet quelconque, à représentation stable."""

    def __repr__(self) -> str:
        return "Opaque()"


_SIZES = (95, 96, 190, 191, 192, 65_535, 65_536, 1 << 20)
big_text = st.builds(
    lambda ch, n: ch * n,  # pyright: ignore[reportUnknownLambdaType]
    st.sampled_from(["a", "é", "😀", "\x00", "'", "\ud800"]),
    st.sampled_from(_SIZES),
)
any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=40)
texts = st.one_of(st.sampled_from(PAYLOADS), any_text, big_text)
huge_ints = st.sampled_from(
    [0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), 2**64, 10**190, 10**191, 10**4300, 10**5000]
)
ints = st.one_of(st.integers(), huge_ints)
wrong = st.one_of(
    st.booleans(),
    st.floats(allow_nan=True),
    st.binary(max_size=8),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(Opaque()),
)
values = st.one_of(st.none(), texts, ints, wrong)
#: Texte de tous les plans sans NUL ni surrogate : ce qu'un backend doit rendre tel quel.
clean_text = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=60
)


def one_hostile(
    clean: st.SearchStrategy[dict[str, Any]], hostile_values: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Des arguments recevables, dont un seul (ou aucun) est remplacé par une valeur hostile.

    Tirés tous au hasard, un champ sur cinq invalide suffirait à tout refuser :
    l'aller-retour ne serait presque jamais éprouvé.
    """

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        kwargs = dict(draw(clean))
        name = draw(st.sampled_from([None, *hostile_values]))
        if name is not None:
            kwargs[name] = draw(hostile_values[name])
        return kwargs

    return build()


offsets = st.builds(
    timezone,
    st.timedeltas(
        min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
    ),
)
moments = st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), offsets))
bound_texts = st.sampled_from(
    [
        "",
        "  ",
        "2020-01-01",
        "2020-01-01 00:00:00",
        "2026-06-15 12:00:00",
        "2030-12-31",
        "0999-01-01",
        "9999-12-31",
        "0001-01-01 00:00:00",
        "2020-13-01",
        "2020-1-1",
        "2020-01-01T00:00:00",
        "2020-01-01 25:00:00",
        "'; DROP TABLE audit_log; --",
    ]
)
bounds = st.one_of(st.none(), bound_texts, moments, texts, wrong, ints)


def _fingerprint(value: object) -> str:
    """Empreinte stable d'une valeur, même d'un entier à 5000 chiffres ou d'un surrogate."""
    digest = hashlib.sha256()

    def feed(v: object) -> None:
        digest.update(type(v).__name__.encode())
        if isinstance(v, str):
            digest.update(v.encode("utf-8", "surrogatepass"))
        elif isinstance(v, bool | float | bytes | datetime | Opaque) or v is None:
            digest.update(repr(v).encode())
        elif isinstance(v, int):
            digest.update(f"{v:x}".encode())
        elif isinstance(v, dict):
            for k, item in sorted(v.items(), key=lambda kv: repr(kv[0])):  # pyright: ignore[reportUnknownArgumentType, reportUnknownLambdaType]
                feed(k)
                feed(item)
        elif isinstance(v, list | tuple):
            for item in v:  # pyright: ignore[reportUnknownVariableType]
                feed(item)
        else:
            digest.update(repr(v).encode())
        digest.update(b"\x1f")

    feed(value)
    return digest.hexdigest()


#: (test, empreinte) -> (backend qui a décidé le premier, décision).
DECISIONS: dict[tuple[str, str], tuple[str, str]] = {}


def decide(test: str, inputs: object, decision: str) -> None:
    """Note la décision ; un autre backend doit prendre la même pour la même entrée."""
    key = (test, _fingerprint(inputs))
    backend = get_backend().name
    first = DECISIONS.setdefault(key, (backend, decision))
    assert first[1] == decision, (
        f"{test} : décision « {decision} » sur {backend}, « {first[1]} » sur {first[0]} "
        "pour la même entrée"
    )


# --------------------------------------------------------------------------
# La table ne doit jamais changer de forme
# --------------------------------------------------------------------------


def _shape() -> dict[str, list[str]]:
    name = get_backend().name
    if name == "sqlite":
        objects = db.fetch_all("SELECT type, name FROM sqlite_master ORDER BY type, name")
        columns = db.fetch_all("SELECT name, type FROM pragma_table_info('audit_log')")
    elif name == "postgres":
        objects = db.fetch_all(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = current_schema() UNION ALL "
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() "
            "ORDER BY name"
        )
        columns = db.fetch_all(
            "SELECT column_name AS name, data_type AS type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'audit_log' "
            "ORDER BY ordinal_position"
        )
    else:
        objects = db.fetch_all(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() UNION ALL "
            "SELECT DISTINCT index_name AS name FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() ORDER BY name"
        )
        columns = db.fetch_all(
            "SELECT column_name AS name, column_type AS type FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = 'audit_log' "
            "ORDER BY ordinal_position"
        )
    return {
        "objects": [str(r["name"]) for r in objects],
        "columns": [f"{r['name']} {r['type']}" for r in columns],
    }


def _count() -> int:
    row = db.fetch_one("SELECT COUNT(*) AS n FROM audit_log")
    assert row is not None
    return int(row["n"])


@pytest.fixture
def guarded(audit_db: Backend) -> Iterator[Backend]:
    """Le journal vide, et la preuve en fin de test que sa forme n'a pas bougé."""
    shape = _shape()
    assert "audit_log" in shape["objects"]
    yield audit_db
    assert _shape() == shape


# --------------------------------------------------------------------------
# Écriture
# --------------------------------------------------------------------------


def _as_written(value: object) -> str | None:
    return None if value is None else str(value)


def _details_as_written(value: object) -> object:
    """Un texte est gardé tel quel ; un dict ou une liste part en JSON canonique masqué
    (encodeur testé à part dans test_details) : ici, l'aller-retour par la base."""
    if value is None or isinstance(value, str):
        return value
    return encode_details(value)


clean_action = st.one_of(
    clean_text.filter(lambda t: bool(t.strip())),  # pyright: ignore[reportUnknownLambdaType, reportUnknownMemberType, reportUnknownArgumentType]
    st.sampled_from(["note.modifiee", "'; DROP TABLE audit_log; --", "😀" * 95, "a" * 191]),
)
clean_optional = st.one_of(
    st.none(),
    clean_text,
    st.sampled_from(["A", "a", "a ", "é", "e\u0301", "ß", "%", "_", "\\", "?"]),
)
record_kwargs = one_hostile(
    st.fixed_dictionaries(
        {
            "action": clean_action,
            "actor": clean_optional,
            "target_type": clean_optional,
            "target_id": st.one_of(clean_optional, st.integers()),
            "details": st.one_of(clean_optional, st.sampled_from(["d" * 65_535, "é" * 32_767])),
        }
    ),
    {
        "action": values,
        "actor": values,
        "target_type": values,
        "target_id": values,
        "details": st.one_of(values, big_text),
    },
)


@hostile(400)
@given(kwargs=record_kwargs)
def test_record_audit_round_trips_or_refuses_before_writing(
    guarded: Backend, kwargs: dict[str, Any]
) -> None:
    action = kwargs["action"]
    actor, target_type = kwargs["actor"], kwargs["target_type"]
    target_id, details = kwargs["target_id"], kwargs["details"]
    before = _count()
    try:
        new_id = record_audit(
            action, actor=actor, target_type=target_type, target_id=target_id, details=details
        )
    except AuditError as error:
        assert str(error).strip()
        assert _count() == before, "AuditError levée après une écriture"
        decision = "refusée"
    else:
        assert _count() == before + 1
        [entry] = get_audit_log(before_id=new_id + 1, limit=1)
        assert entry.id == new_id
        assert (entry.action, entry.actor, entry.target_type, entry.target_id, entry.details) == (
            action,
            actor,
            target_type,
            _as_written(target_id),
            _details_as_written(details),
        )
        # Les filtres retrouvent la ligne à l'identique (casse, accents, espaces).
        found = get_audit_log(
            limit=1, action=action, actor=actor, target_type=target_type, target_id=target_id
        )
        assert [e.id for e in found] == [new_id]
        decision = "acceptée"
    decide("record_audit", (action, actor, target_type, target_id, details), decision)


entry_keys = st.sampled_from(["action", "actor", "target_type", "target_id", "details", "inconnu"])
entries = st.one_of(
    st.lists(
        st.one_of(
            st.fixed_dictionaries(
                {"action": st.one_of(st.sampled_from(["lot.a", "lot.b"]), clean_action, values)},
                optional={
                    "actor": clean_optional,
                    "target_type": clean_optional,
                    "target_id": clean_optional,
                    "details": clean_optional,
                },
            ),
            st.dictionaries(entry_keys, values, max_size=3),
            values,
        ),
        max_size=5,
    ),
    values,
)


@hostile(150)
@given(batch=entries)
def test_record_audit_many_all_or_nothing(guarded: Backend, batch: Any) -> None:
    if not hasattr(forge_mvc_audit, "record_audit_many"):
        pytest.skip("record_audit_many n'est pas encore disponible dans ce paquet.")
    record_audit_many: Callable[..., int] = forge_mvc_audit.record_audit_many  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    before = _count()
    try:
        written = record_audit_many(batch)
    except AuditError:
        assert _count() == before, "lot refusé mais des lignes écrites"
        decision = "refusé"
    else:
        assert written == len(batch)
        assert _count() == before + written
        newest = get_audit_log(limit=max(written, 1))[:written]
        got = sorted(
            ((e.action, e.actor, e.target_type, e.target_id, e.details) for e in newest), key=repr
        )
        expected = sorted(
            (
                (
                    item["action"],
                    item.get("actor"),
                    item.get("target_type"),
                    _as_written(item.get("target_id")),
                    _details_as_written(item.get("details")),
                )
                for item in batch
            ),
            key=repr,
        )
        assert got == expected
        decision = "accepté"
    decide("record_audit_many", batch, decision)


# --------------------------------------------------------------------------
# Lecture : un journal connu, et un calcul en Python de la réponse attendue
# --------------------------------------------------------------------------

SEED_ACTORS: list[str | None] = [
    None,
    "A",
    "a",
    "a ",
    "é",
    "É",
    "e\u0301",
    "ß",
    "ss",
    "😀",
    "x" * 191,
    "'; DROP TABLE audit_log; --",
    "%",
    "_",
]
SEED_STAMPS = [
    "1970-01-01 00:00:00",
    "2000-02-29 23:59:59",
    "2020-01-01 00:00:00",
    "2020-01-01 23:59:59",
    "2020-01-02 00:00:00",
    "2026-06-15 12:00:00",
    "2026-06-15 12:00:00",
    "2030-12-31 23:59:59",
]
SEED_ACTIONS = ["lecture.test", "Lecture.Test", "'; DROP TABLE audit_log; --"]
SEED_TYPES: list[str | None] = ["note", "Note", None]
SEED_IDS: list[str | None] = ["1", "01", "1 ", None, "😀"]


def _seed() -> list[dict[str, Any]]:
    """~40 lignes aux valeurs piégeuses, dates choisies ; rend la table telle que relue."""
    for i in range(40):
        db.insert(
            "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                SEED_ACTORS[i % len(SEED_ACTORS)],
                SEED_ACTIONS[i % len(SEED_ACTIONS)],
                SEED_TYPES[i % len(SEED_TYPES)],
                SEED_IDS[i % len(SEED_IDS)],
                f"ligne {i}",
                SEED_STAMPS[i % len(SEED_STAMPS)],
            ),
        )
    return [
        {
            "id": e.id,
            "actor": e.actor,
            "action": e.action,
            "target_type": e.target_type,
            "target_id": e.target_id,
            "created_at": datetime.strptime(e.created_at, "%Y-%m-%d %H:%M:%S"),
        }
        for e in get_audit_log(limit=1000)
    ]


@pytest.fixture
def seeded(guarded: Backend) -> list[dict[str, Any]]:
    return _seed()


def _bound(value: object, *, upper: bool) -> datetime | None:
    """La borne telle que le contrat la définit, pour une valeur déjà acceptée."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        value = value.replace(microsecond=0)
        return value + timedelta(seconds=1) if upper else value
    assert isinstance(value, str)
    text = value.strip()
    if not text:
        return None
    if len(text) == 10:
        day = datetime.strptime(text, "%Y-%m-%d")
        return day + timedelta(days=1) if upper else day
    moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    return moment + timedelta(seconds=1) if upper else moment


def _expected(rows: list[dict[str, Any]], filters: dict[str, Any]) -> list[int]:
    """Ids attendus, du plus récent au plus ancien, calculés en Python."""
    since = _bound(filters.get("since"), upper=False)
    try:
        until = _bound(filters.get("until"), upper=True)
    except OverflowError:
        until = None  # au-delà de 9999-12-31 : rien n'est plus récent
    out: list[int] = []
    for row in rows:
        if any(
            filters.get(name) is not None and row[name] != _as_written(filters[name])
            for name in ("actor", "action", "target_type", "target_id")
        ):
            continue
        if since is not None and row["created_at"] < since:
            continue
        if until is not None and row["created_at"] >= until:
            continue
        before_id = filters.get("before_id")
        if before_id is not None and row["id"] >= before_id:
            continue
        out.append(row["id"])
    return sorted(out, reverse=True)


valid_bounds = st.one_of(
    st.none(),
    st.sampled_from(SEED_STAMPS),
    st.sampled_from([x[:10] for x in SEED_STAMPS]),
    st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(2040, 1, 1)),
)
read_kwargs = one_hostile(
    st.fixed_dictionaries(
        {},
        optional={
            "actor": st.sampled_from(SEED_ACTORS),
            "action": st.sampled_from(SEED_ACTIONS),
            "target_type": st.sampled_from(SEED_TYPES),
            "target_id": st.sampled_from([*SEED_IDS, 1]),
            "since": valid_bounds,
            "until": valid_bounds,
            "before_id": st.integers(min_value=1, max_value=60),
            "limit": st.integers(min_value=1, max_value=50),
        },
    ),
    {
        "actor": values,
        "action": values,
        "target_type": values,
        "target_id": values,
        "since": bounds,
        "until": bounds,
        "before_id": st.one_of(ints, wrong),
        "limit": st.one_of(ints, wrong),
    },
)


@hostile(300)
@given(kwargs=read_kwargs)
def test_reads_answer_exactly_or_refuse(
    seeded: list[dict[str, Any]], kwargs: dict[str, Any]
) -> None:
    filters = {k: v for k, v in kwargs.items() if k != "limit"}
    limit = kwargs.get("limit", 100)
    before = _count()
    try:
        page = get_audit_log(limit=limit, **filters)
    except AuditError as error:
        assert str(error).strip()
        decision = "refusée"
    else:
        assert all(isinstance(e, AuditEntry) for e in page)
        assert [e.id for e in page] == _expected(seeded, filters)[: min(limit, 1000)]
        decision = "acceptée"
    decide("get_audit_log", (filters, limit), decision)

    try:
        total = count_audit(**filters)
    except AuditError:
        counted = "refusé"
    else:
        assert total == len(_expected(seeded, filters))
        counted = "accepté"
    decide("count_audit", filters, counted)
    # Mêmes filtres, même verdict : seul `limit` est propre à get_audit_log.
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1:
        assert (decision == "acceptée") == (counted == "accepté")
    assert _count() == before


@hostile(100)
@given(kwargs=read_kwargs, batch_size=st.one_of(st.integers(min_value=1, max_value=7), ints, wrong))
def test_export_rows_complete_or_refused(
    seeded: list[dict[str, Any]], kwargs: dict[str, Any], batch_size: Any
) -> None:
    filters = {k: v for k, v in kwargs.items() if k not in ("limit", "before_id")}
    try:
        export = importlib.import_module("forge_mvc_audit.export")
    except ImportError:
        pytest.skip("forge_mvc_audit.export n'est pas encore disponible dans ce paquet.")
    try:
        rows = list(export.iter_audit_rows(batch_size=batch_size, **filters))
    except AuditError:
        decision = "refusé"
    else:
        assert [int(r["id"]) for r in rows] == _expected(seeded, filters)
        decision = "accepté"
    decide("iter_audit_rows", (filters, batch_size), decision)


@hostile(100)
@given(
    cutoff=bounds,
    keep_days=st.one_of(st.integers(min_value=-2, max_value=40_000), ints, wrong, texts),
)
def test_retention_helpers_refuse_or_count_exactly(
    seeded: list[dict[str, Any]], cutoff: Any, keep_days: Any
) -> None:
    if not hasattr(forge_mvc_audit, "purge_audit_before"):
        pytest.skip("purge_audit_before n'est pas encore disponible dans ce paquet.")
    api: Any = forge_mvc_audit
    try:
        computed = api.cutoff_for_days(keep_days)
    except AuditError:
        decide("cutoff_for_days", keep_days, "refusé")
    else:
        assert isinstance(computed, str)
        decide("cutoff_for_days", keep_days, "accepté")

    before = _count()
    try:
        deleted = api.purge_audit_before(cutoff)
    except AuditError:
        assert _count() == before, "purge refusée mais des lignes supprimées"
        decide("purge_audit_before", cutoff, "refusé")
        return
    decide("purge_audit_before", cutoff, "accepté")
    after = _count()
    assert deleted == before - after
    try:
        limit = _bound(cutoff, upper=False)
    except (AssertionError, ValueError):
        limit = None  # forme acceptée que cet oracle ne sait pas lire
    if limit is not None:
        kept = {e.id for e in get_audit_log(limit=1000)}
        for row in seeded:
            assert (row["id"] in kept) == (row["created_at"] >= limit)
    # Remet le journal connu pour l'exemple suivant.
    db.execute("DELETE FROM audit_log")
    seeded[:] = _seed()


# --------------------------------------------------------------------------
# Fonctions sans base
# --------------------------------------------------------------------------


@pytest.mark.fast
@hostile(100)
@given(backend_name=st.one_of(st.sampled_from(["sqlite", "postgres", "mariadb", "mssql"]), values))
def test_create_table_sql_renders_or_refuses(backend_name: Any) -> None:
    try:
        ddl = create_table_sql(backend_name)
    except AuditError as error:
        assert str(error).strip()
    else:
        assert backend_name in ("sqlite", "postgres", "mariadb", "mssql")
        assert "audit_log" in ddl


@pytest.mark.fast
@hostile(100)
@given(details=values)
def test_details_data_never_raises(details: Any) -> None:
    entry = AuditEntry(1, None, "a", None, None, details, "2026-01-01 00:00:00")
    data = entry.details_data
    assert data is None or isinstance(data, dict | list)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

#: Options décrites par les tickets, sans celles qui écrivent (--output, --run).
CLI_OPTIONS = [
    "--actor",
    "--action",
    "--target",
    "--since",
    "--until",
    "--limit",
    "--before-id",
    "--format",
    "--days",
    "--since-seal",
    "--json",
    "--",
    "-x",
    "--inconnue",
]
cli_tokens = st.one_of(st.sampled_from(CLI_OPTIONS), st.sampled_from(PAYLOADS), any_text, big_text)
cli_args = st.lists(cli_tokens, min_size=1, max_size=4).filter(
    lambda a: not any(t in ("-h", "--help") for t in a)  # pyright: ignore[reportUnknownLambdaType, reportUnknownVariableType]
)


def _run_cli(command: str, args: list[str]) -> tuple[int, str]:
    """Lance `main(args)` de la commande, sorties sur des flux UTF-8 stricts (un vrai terminal)."""
    module = importlib.import_module(str(COMMANDS[command]["module"]))
    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", errors="strict", write_through=True)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = module.main(list(args))
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    text = (out_bytes.getvalue() + err_bytes.getvalue()).decode("utf-8")
    return int(code), text


def _one_error_line(code: int, text: str) -> None:
    assert "Traceback" not in text
    if code != 0:
        assert code in (1, 2), code
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("[ERREUR] "), text[:2000]


@hostile(150)
@given(command=st.sampled_from(sorted(COMMANDS)), args=cli_args)
def test_cli_one_error_line_or_success(
    guarded: Backend, tmp_path_factory: pytest.TempPathFactory, command: str, args: list[str]
) -> None:
    project = tmp_path_factory.mktemp("projet")
    (project / "mvc").mkdir()
    before = _count()
    cwd = os.getcwd()
    os.chdir(project)
    try:
        code, text = _run_cli(command, args)
    finally:
        os.chdir(cwd)
    _one_error_line(code, text)
    if code != 0:
        assert not (project / "mvc" / "migrations").exists() or not any(
            (project / "mvc" / "migrations").iterdir()
        ), "commande refusée mais des fichiers écrits"
    assert _count() == before
    decide(f"cli {command}", args, "succès" if code == 0 else "erreur")


@pytest.mark.fast
@pytest.mark.parametrize(
    "arg",
    [
        "'; DROP TABLE audit_log; --",
        "\x1b[2J\x1b[31mrouge",
        "😀" * 500,
        b"\xff\xfe-octets-invalides",
    ],
    ids=["injection", "echappements", "long", "octets"],
)
def test_real_forge_executable_prints_one_error_line(tmp_path: Path, arg: str | bytes) -> None:
    (tmp_path / "mvc").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env["DB_BACKEND"] = "sqlite"
    forge = str(Path(sys.executable).parent / "forge")
    result = subprocess.run(
        [forge, "audit:init", arg], cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    text = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode == 2, text
    _one_error_line(result.returncode, text)
    # Aucune séquence d'échappement ne part telle quelle vers le terminal.
    assert "\x1b" not in text
    assert not (tmp_path / "mvc" / "migrations").exists()


def test_day_bounds_before_year_1000_are_not_misread(seeded: list[dict[str, Any]]) -> None:
    """Une borne de l'an 999 précède tout le journal (et ne s'écrit pas « 999-… »)."""
    ancient = datetime(999, 1, 1)
    assert len(get_audit_log(since=ancient, limit=1000)) == len(seeded)
    assert get_audit_log(until=date(999, 1, 1).isoformat(), limit=5) == []
