"""La table : rendus versionnés, DDL par dialecte, index servis par les plans."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest
from core.database import db
from core.database.transaction import transaction

import forge_mvc_audit
from conftest import ROOT, Backend, apply_migrations
from forge_mvc_audit import CREATE_TABLE_SQL, AuditError, create_table_sql, get_audit_log
from forge_mvc_audit.tables import BACKENDS, MIGRATIONS, TABLE

sys.path.insert(0, str(ROOT / "scripts"))
from render_migrations import rendered

PUBLISHED_NAMES = {
    "record_audit",
    "get_audit_log",
    "AuditEntry",
    "AuditError",
    "TABLE_NAME",
    "MAX_LIMIT",
    "CREATE_TABLE_SQL",
}

# Les fonctions publiques de forge-mvc-audit 1.0.0rc9 et leurs paramètres : une
# application qui les appelle ainsi doit pouvoir passer à ce paquet sans rien changer.
PUBLISHED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "record_audit": ("action", "actor", "target_type", "target_id", "details", "db"),
    "get_audit_log": (
        "limit", "actor", "action", "target_type", "target_id", "before_id", "since", "until",
        "db",
    ),
    "record_request_audit": ("request", "action", "target_type", "target_id", "details", "db"),
    "iter_audit_rows": (
        "actor", "action", "target_type", "target_id", "since", "until", "batch_size", "db",
    ),
    "entry_to_row": ("entry",),
    "cutoff_for_days": ("keep_days", "now"),
    "count_audit_before": ("cutoff", "db"),
    "purge_audit_before": ("cutoff", "db"),
    "audit_permission_denials": ("action", "db"),
    "permission_denials_audited": (),
    "reset_denial_bridge": (),
    "denial_details": ("event",),
}
PUBLISHED_CONSTANTS = {
    "DENIAL_ACTION": "acces.refuse",
    "DENIAL_TARGET_TYPE": "permission",
    "DEFAULT_BATCH_SIZE": 500,
    "AUDIT_EXPORT_COLUMNS": (
        "id", "created_at", "actor", "action", "target_type", "target_id", "details",
    ),
}


@pytest.mark.fast
def test_public_api() -> None:
    assert set(forge_mvc_audit.__all__) >= PUBLISHED_NAMES
    assert forge_mvc_audit.TABLE_NAME == "audit_log"
    assert forge_mvc_audit.MAX_LIMIT == 1000
    assert isinstance(forge_mvc_audit.__version__, str)
    for name in forge_mvc_audit.__all__:
        assert hasattr(forge_mvc_audit, name), name


@pytest.mark.fast
def test_everything_the_published_package_offers_is_here() -> None:
    exported = set(forge_mvc_audit.__all__)
    assert set(PUBLISHED_SIGNATURES) | set(PUBLISHED_CONSTANTS) <= exported
    for name, parameters in PUBLISHED_SIGNATURES.items():
        ours = inspect.signature(getattr(forge_mvc_audit, name)).parameters
        assert set(parameters) <= set(ours), (name, set(parameters) - set(ours))
        # Les nouveaux paramètres ont tous une valeur par défaut.
        added = [p for n, p in ours.items() if n not in parameters]
        assert all(p.default is not inspect.Parameter.empty for p in added), name
    for name, value in PUBLISHED_CONSTANTS.items():
        ours_value = getattr(forge_mvc_audit, name)
        if isinstance(value, tuple):
            assert ours_value[: len(value)] == value, name
        else:
            assert ours_value == value, name


@pytest.mark.fast
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_committed_migrations_match_the_declaration(backend_name: str) -> None:
    folder = ROOT / "migrations" / backend_name
    committed = {p.name: p.read_bytes() for p in sorted(folder.glob("*.sql"))}
    assert committed == rendered(backend_name), (
        "migrations/ est périmé : python scripts/render_migrations.py"
    )
    assert list(committed) == [name for name, _ in MIGRATIONS]


@pytest.mark.fast
def test_create_table_sql_constant_is_the_mariadb_rendering() -> None:
    assert create_table_sql("mariadb") == CREATE_TABLE_SQL


@pytest.mark.fast
def test_mssql_ddl_is_rendered_for_sql_server() -> None:
    ddl = create_table_sql("mssql")
    assert "IF OBJECT_ID(N'audit_log', N'U') IS NULL" in ddl
    assert "id BIGINT IDENTITY(1,1)" in ddl
    assert "actor NVARCHAR(191) NULL" in ddl
    assert "created_at DATETIME2 NOT NULL DEFAULT SYSUTCDATETIME()" in ddl
    assert "LIMIT" not in ddl
    migration = (ROOT / "migrations/mssql/20261203100100_audit_log_request_id.sql").read_text()
    assert "ALTER TABLE audit_log ADD request_id NVARCHAR(64) NULL;" in migration
    assert migration.count("IF NOT EXISTS (SELECT 1 FROM sys.indexes") == len(TABLE.indexes)


@pytest.mark.fast
def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(AuditError, match="Backend inconnu"):
        create_table_sql("oracle")


def _seed(count: int) -> None:
    with transaction() as tx:
        for i in range(count):
            db.insert(
                "INSERT INTO audit_log (actor, action, target_type, target_id, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    f"user{i % 97}",
                    f"action{i % 61}",
                    f"type{i % 53}",
                    str(i % 211),
                    f"2026-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00",
                ),
                tx=tx,
            )


# Chaque requête de lecture et l'index qui doit la servir.
PLANS = [
    ({"actor": "user3"}, "idx_audit_log_actor"),
    ({"action": "action3"}, "idx_audit_log_action"),
    ({"target_type": "type3"}, "idx_audit_log_target_type"),
    ({"target_type": "type3", "target_id": "5"}, "idx_audit_log_target"),
    ({"target_id": "5"}, "idx_audit_log_target"),
    ({"request_id": "r-1"}, "idx_audit_log_request"),
    ({"since": "2026-03-01", "until": "2026-03-01"}, "idx_audit_log_created"),
    ({"actor": "user3", "since": "2026-03-01", "until": "2026-03-31"}, "idx_audit_log_"),
]


def _plan(backend: Backend, sql: str, params: list[object]) -> str:
    if backend.name == "sqlite":
        rows = db.fetch_all("EXPLAIN QUERY PLAN " + sql, params)
        return " | ".join(str(r["detail"]) for r in rows)
    if backend.name == "postgres":
        with transaction() as tx:
            # Sur une petite table, PostgreSQL préfère lire séquentiellement :
            # on demande quel index il prendrait.
            db.execute("SET LOCAL enable_seqscan = off", tx=tx)
            rows = db.fetch_all("EXPLAIN " + sql, params, tx=tx)
        return " | ".join(str(next(iter(r.values()))) for r in rows)
    rows = db.fetch_all("EXPLAIN " + sql, params)
    return " | ".join(f"{r['type']} key={r['key']}" for r in rows)


def test_every_filter_is_served_by_an_index(audit_db: Backend) -> None:
    from forge_mvc_audit.query import build_filters, where_clause
    from forge_mvc_audit.store import ordered_source, page_sql

    _seed(3000)
    if audit_db.name == "mariadb":
        db.execute("ANALYZE TABLE audit_log")
    elif audit_db.name == "postgres":
        db.execute("ANALYZE audit_log")
    else:
        db.execute("ANALYZE")
    for filters, index in PLANS:
        built = build_filters(**filters)
        where, params = where_clause(built)
        sql = page_sql(where, source=ordered_source(built))
        plan = _plan(audit_db, sql, [*params, 20])
        assert index in plan, f"{filters}: {plan}"
        assert "SCAN audit_log" not in plan
        assert "Seq Scan" not in plan
        assert "type=ALL" not in plan
    assert len(get_audit_log(actor="user3", limit=5)) == 5


def _create_published_table(backend: Backend) -> None:
    """La table à sept colonnes de la version publiée 1.0.0rc9, rendue ici."""
    string = "TEXT" if backend.name == "sqlite" else "VARCHAR(191)"
    ident = {
        "sqlite": "id INTEGER PRIMARY KEY AUTOINCREMENT",
        "postgres": "id BIGSERIAL PRIMARY KEY",
        "mariadb": "id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY",
    }[backend.name]
    stamp = {
        "sqlite": "TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP",
        "postgres": "TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc')",
        "mariadb": "DATETIME NOT NULL DEFAULT UTC_TIMESTAMP",
    }[backend.name]
    db.execute(
        f"CREATE TABLE audit_log ({ident}, actor {string} NULL, action {string} NOT NULL, "
        f"target_type {string} NULL, target_id {string} NULL, details TEXT NULL, "
        f"created_at {stamp})"
    )
    db.execute("CREATE INDEX idx_audit_action ON audit_log (action)")
    db.execute("CREATE INDEX idx_audit_target ON audit_log (target_type, target_id)")
    db.execute("CREATE INDEX idx_audit_created ON audit_log (created_at)")


def test_upgrade_from_the_published_table_keeps_every_row(audit_db: Backend) -> None:
    db.execute("DROP TABLE audit_log")
    try:
        _create_published_table(audit_db)
        for i in range(3):
            db.insert(
                "INSERT INTO audit_log (actor, action, target_type, target_id, details,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (f"prof{i}", "note.modifiee", "note", str(i), f"{i} -> {i + 1}",
                 f"2026-06-0{i + 1} 08:00:00"),
            )
        apply_migrations(audit_db.name)
        entries = get_audit_log()
        assert [(e.actor, e.target_id, e.details, e.created_at) for e in entries] == [
            ("prof2", "2", "2 -> 3", "2026-06-03 08:00:00"),
            ("prof1", "1", "1 -> 2", "2026-06-02 08:00:00"),
            ("prof0", "0", "0 -> 1", "2026-06-01 08:00:00"),
        ]
        assert all(e.request_id is None and e.ip is None for e in entries)
        forge_mvc_audit.record_audit("apres.migration", actor="prof9")
        assert get_audit_log(actor="prof9")[0].id == 4
    finally:
        db.execute("DROP TABLE audit_log")
        apply_migrations(audit_db.name)


def test_migrations_are_replayable(audit_db: Backend) -> None:
    """Rejouer la création sur une table existante ne change rien (IF NOT EXISTS)."""
    forge_mvc_audit.record_audit("avant")
    for name, content in rendered(audit_db.name).items():
        if "create" in name:
            for statement in content.decode().split(";\n"):
                if statement.strip() and not statement.strip().startswith("--"):
                    db.execute(statement)
    assert [e.action for e in get_audit_log()] == ["avant"]


def test_migration_files_are_in_apply_order() -> None:
    names = [name for name, _ in MIGRATIONS]
    assert names == sorted(names)
    assert all(Path(n).suffix == ".sql" for n in names)


def test_old_period_with_a_filter_never_scans_the_primary_key(audit_db: Backend) -> None:
    """Un filtre d'égalité et une période ancienne : l'ordre vient de l'index du filtre.
    (MariaDB, sans l'indice d'`ordered_source`, parcourait la clé primaire entière.)"""
    from audit_rows import insert_rows
    from forge_mvc_audit.query import build_filters, where_clause
    from forge_mvc_audit.store import ordered_source, page_sql

    # Deux ans à pas constant ; un acteur sur trois lignes. Mesuré : à partir de
    # ~100 000 entrées, MariaDB sans indice choisit la clé primaire pour six mois anciens.
    total = 100_000
    insert_rows(
        (
            {
                "actor": f"user{i % 50}" if i % 3 else "busy",
                "action": f"action{i % 7}",
                "created_at": f"{2025 + month // 12}-{1 + month % 12:02d}-01 10:00:00",
            }
            for i in range(total)
            for month in [i * 24 // total]
        ),
        chunk=1000,
    )
    if audit_db.name == "postgres":
        # Un journal en service : l'autovacuum a posé la carte de visibilité. Sans
        # elle, PostgreSQL croit chaque lecture d'index coûteuse et marche la clé
        # primaire (même piège que MariaDB, mais sans indice possible).
        import psycopg

        env = audit_db.env
        with psycopg.connect(
            host=env["DB_HOST"],
            port=int(env["DB_PORT"]),
            user=env["DB_APP_LOGIN"],
            dbname=env["DB_NAME"],
            autocommit=True,
        ) as conn:
            conn.execute("VACUUM ANALYZE audit_log")
    else:
        db.execute("ANALYZE TABLE audit_log" if audit_db.name == "mariadb" else "ANALYZE")
    for filters in (
        {"actor": "busy", "since": "2025-01-01", "until": "2025-06-30"},
        {"action": "action3", "since": "2025-01-01", "until": "2025-06-30"},
    ):
        built = build_filters(**filters)
        where, params = where_clause(built)
        plan = _plan(audit_db, page_sql(where, source=ordered_source(built)), [*params, 20])
        assert "idx_audit_log_" in plan, f"{filters}: {plan}"
        walks_primary_key = {
            "sqlite": "INTEGER PRIMARY KEY (rowid<",
            "postgres": "Backward using audit_log_pkey",
        }.get(audit_db.name, "index key=PRIMARY")
        assert walks_primary_key not in plan, f"{filters}: {plan}"
        assert "range key=PRIMARY" not in plan, f"{filters}: {plan}"
        assert "Seq Scan" not in plan and "SCAN audit_log" not in plan
        got = [e.id for e in get_audit_log(limit=20, **filters)]  # type: ignore[arg-type]
        assert len(got) == 20 and got == sorted(got, reverse=True)
