"""Une mesure, dans un processus neuf, lancée par bench/driver.py.

    python bench/worker.py '{"workload": ..., "side": "ours"|"ref"|"raw", ...}'

`ours` et `ref` tournent dans le venv du paquet mesuré et passent par son API
publique ; `raw` tourne dans le venv « ours » et parle au pilote directement
(la limite physique). La base visée est décrite par les variables DB_* que le
pilote pose. La dernière ligne de stdout est le résultat, en JSON.

Une fonctionnalité absente du paquet mesuré (fonction manquante) donne
`{"available": false, "reason": ...}` au lieu d'une erreur : la ligne du
tableau se remplira d'elle-même quand la fonctionnalité arrivera.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

Result = dict[str, Any]


class Unavailable(Exception):
    """La fonctionnalité mesurée n'existe pas dans ce paquet."""


def feature(module: str, name: str) -> Any:
    """`module.name`, ou `Unavailable` si le module ou la fonction manque."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"{module} absent") from None
    if not hasattr(mod, name):
        raise Unavailable(f"{module}.{name} absent")
    return getattr(mod, name)


def peak_rss_mb() -> float:
    # Linux : ru_maxrss en kio.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------
# Accès brut (limite physique) : le pilote du backend, une seule connexion.
# --------------------------------------------------------------------------


def raw_connect() -> Any:
    backend = os.environ["DB_BACKEND"]
    if backend == "sqlite":
        import sqlite3

        return sqlite3.connect(os.environ["DB_NAME"])
    if backend == "postgres":
        import psycopg

        return psycopg.connect(
            host=os.environ["DB_HOST"],
            port=int(os.environ["DB_PORT"]),
            user=os.environ["DB_APP_LOGIN"],
            dbname=os.environ["DB_NAME"],
        )
    import mariadb

    return mariadb.connect(
        host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]),
        user=os.environ["DB_APP_LOGIN"],
        password=os.environ.get("DB_APP_PWD", ""),
        database=os.environ["DB_NAME"],
    )


def raw_sql(sql: str) -> str:
    if os.environ["DB_BACKEND"] == "sqlite":
        return sql
    return sql.replace("?", "%s")


# --------------------------------------------------------------------------
# Chronométrage de chaque instruction, pour tous les chemins de Forge.
# --------------------------------------------------------------------------


class StatementClock:
    """Enveloppe les connexions du backend actif : durée de chaque execute et commit."""

    def __init__(self) -> None:
        self.statements: list[float] = []
        self.commits: list[float] = []

    def install(self) -> None:
        from core.database.backend import get_backend

        backend: Any = get_backend()
        get_connection = backend.get_connection
        close_connection = backend.close_connection
        clock = self

        class Cursor:
            def __init__(self, inner: Any) -> None:
                self._inner = inner

            def execute(self, *args: Any, **kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return self._inner.execute(*args, **kwargs)
                finally:
                    clock.statements.append(time.perf_counter() - start)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

        class Connection:
            def __init__(self, inner: Any) -> None:
                object.__setattr__(self, "_inner", inner)

            def cursor(self, *args: Any, **kwargs: Any) -> Any:
                return Cursor(self._inner.cursor(*args, **kwargs))

            def commit(self) -> None:
                start = time.perf_counter()
                try:
                    self._inner.commit()
                finally:
                    clock.commits.append(time.perf_counter() - start)

            def __getattr__(self, name: str) -> Any:
                return getattr(self._inner, name)

            def __setattr__(self, name: str, value: Any) -> None:
                setattr(self._inner, name, value)

        def timed_get() -> Any:
            return Connection(get_connection())

        def timed_close(connection: Any) -> None:
            inner = connection._inner if isinstance(connection, Connection) else connection
            close_connection(inner)

        backend.get_connection = timed_get
        backend.close_connection = timed_close


# --------------------------------------------------------------------------
# Charges
# --------------------------------------------------------------------------


def sample_rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    """Entrées réalistes et déterministes pour les écritures."""
    return [
        {
            "action": f"note.modifiee{(i % 7)}",
            "actor": f"prof.{(i * 7919) % 300:03d}",
            "target_type": "note",
            "target_id": str(100000 + i),
            "details": f"valeur {i % 20} -> {(i + 3) % 20} (trimestre {i % 3 + 1})",
        }
        for i in range(offset, offset + n)
    ]


def w_record_standalone(side: str, p: dict[str, Any]) -> Result:
    rows = sample_rows(p["n"])
    if side == "raw":
        conn = raw_connect()
        sql = raw_sql(
            "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)"
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        start = time.perf_counter()
        for r in rows:
            cur = conn.cursor()
            cur.execute(
                sql,
                (r["actor"], r["action"], r["target_type"], r["target_id"], r["details"], stamp),
            )
            conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
    else:
        record_audit = feature("forge_mvc_audit", "record_audit")
        record_audit(**rows[0])  # connexion, imports paresseux
        start = time.perf_counter()
        for r in rows[1:]:
            record_audit(**r)
        elapsed = time.perf_counter() - start
        rows = rows[1:]
    return {"ops_s": len(rows) / elapsed}


def w_record_tx(side: str, p: dict[str, Any]) -> Result:
    """`variant` : bare (db.insert tx=), record_audit (tx=), many (record_audit_many tx=), raw."""
    rows = sample_rows(p["n"], offset=p.get("offset", 0))
    variant = p["variant"]
    columns = ("actor", "action", "target_type", "target_id", "details", "created_at")
    sql = f"INSERT INTO audit_log ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    if variant in ("raw", "raw_many"):
        params = [
            (r["actor"], r["action"], r["target_type"], r["target_id"], r["details"], stamp)
            for r in rows
        ]
        conn = raw_connect()
        start = time.perf_counter()
        cur = conn.cursor()
        if variant == "raw":
            cur.executemany(raw_sql(sql), params)
        else:
            # INSERT multi-lignes, 500 lignes par instruction, comme record_audit_many.
            one = f"({', '.join('?' for _ in columns)})"
            for at in range(0, len(params), 500):
                chunk = params[at : at + 500]
                multi = f"INSERT INTO audit_log ({', '.join(columns)}) VALUES " + ", ".join(
                    [one] * len(chunk)
                )
                cur.execute(raw_sql(multi), [v for row in chunk for v in row])
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
        return {"rows_s": len(rows) / elapsed}

    from core.database import db
    from core.database.transaction import transaction

    if variant == "bare":
        # Le minimum d'un appelant : l'INSERT de la même ligne, horodatage déjà calculé.
        start = time.perf_counter()
        with transaction() as tx:
            for r in rows:
                db.insert(
                    sql,
                    (
                        r["actor"],
                        r["action"],
                        r["target_type"],
                        r["target_id"],
                        r["details"],
                        stamp,
                    ),
                    tx=tx,
                )
        elapsed = time.perf_counter() - start
    elif variant == "record_audit":
        record_audit = feature("forge_mvc_audit", "record_audit")
        import inspect

        if "tx" not in inspect.signature(record_audit).parameters:
            raise Unavailable("record_audit(tx=) absent")
        start = time.perf_counter()
        with transaction() as tx:
            for r in rows:
                record_audit(**r, tx=tx)
        elapsed = time.perf_counter() - start
    else:
        record_audit_many = feature("forge_mvc_audit", "record_audit_many")
        start = time.perf_counter()
        with transaction() as tx:
            written = record_audit_many(rows, tx=tx)
        elapsed = time.perf_counter() - start
        if written != len(rows):
            raise RuntimeError(f"record_audit_many a rendu {written} pour {len(rows)} entrées")
    return {"rows_s": len(rows) / elapsed}


def w_read(side: str, p: dict[str, Any]) -> Result:
    """Chaque filtre : médiane de `calls` appels de get_audit_log(limit=20), ids rendus."""
    get_audit_log = feature("forge_mvc_audit", "get_audit_log")
    out: dict[str, Any] = {}
    for name, filters in p["filters"].items():
        ids = [e.id for e in get_audit_log(limit=20, **filters)]
        times: list[float] = []
        for _ in range(p["calls"]):
            start = time.perf_counter()
            get_audit_log(limit=20, **filters)
            times.append(time.perf_counter() - start)
        out[name] = {"ms": statistics.median(times) * 1000, "ids": ids}
    return {"filters": out}


def w_export(side: str, p: dict[str, Any]) -> Result:
    count = 0
    if side == "raw":
        conn = raw_connect()
        cur = conn.cursor()
        start = time.perf_counter()
        cur.execute(
            "SELECT id, created_at, actor, action, target_type, target_id, details "
            "FROM audit_log ORDER BY id DESC"
        )
        while batch := cur.fetchmany(1000):
            count += len(batch)
        elapsed = time.perf_counter() - start
        conn.close()
    else:
        iter_audit_rows = feature("forge_mvc_audit.export", "iter_audit_rows")
        start = time.perf_counter()
        for _row in iter_audit_rows():
            count += 1
        elapsed = time.perf_counter() - start
    if count != p["expected"]:
        raise RuntimeError(f"export incomplet : {count} lignes pour {p['expected']}")
    return {"rows_s": count / elapsed, "rss_mb": peak_rss_mb(), "rows": count}


def w_purge(side: str, p: dict[str, Any]) -> Result:
    cutoff = p["cutoff"]
    if side == "raw" and p.get("batch"):
        return _raw_batched_purge(cutoff, int(p["batch"]))
    if side == "raw":
        conn = raw_connect()
        cur = conn.cursor()
        start = time.perf_counter()
        cur.execute(raw_sql("DELETE FROM audit_log WHERE created_at < ?"), (cutoff,))
        deleted = cur.rowcount
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.close()
        return {"total_s": elapsed, "longest_ms": elapsed * 1000, "deleted": deleted}
    purge = feature("forge_mvc_audit", "purge_audit_before")
    clock = StatementClock()
    clock.install()
    kwargs: dict[str, Any] = {}
    if side == "ours":
        kwargs["batch_size"] = p.get("batch_size", 5000)
    start = time.perf_counter()
    deleted = purge(cutoff, **kwargs)
    elapsed = time.perf_counter() - start
    return {
        "total_s": elapsed,
        "longest_ms": max(clock.statements, default=0.0) * 1000,
        "longest_commit_ms": max(clock.commits, default=0.0) * 1000,
        "statements": len(clock.statements),
        "deleted": int(deleted),
    }


def _raw_batched_purge(cutoff: str, batch: int) -> Result:
    """Le même découpage que notre purge (id lus, puis une plage d'id par transaction),
    par le pilote seul, sans pause entre les lots : la limite physique des lots."""
    conn = raw_connect()
    cur = conn.cursor()
    if os.environ["DB_BACKEND"] == "sqlite":
        cur.execute("PRAGMA cache_size = -65536")  # comme notre purge
    find = raw_sql(
        "SELECT id FROM audit_log WHERE created_at < ? ORDER BY created_at, id LIMIT ?"
    )
    delete = raw_sql("DELETE FROM audit_log WHERE id >= ? AND id <= ? AND created_at < ?")
    deleted = 0
    longest = 0.0
    start = time.perf_counter()
    while True:
        cur.execute(find, (cutoff, batch))
        ids = sorted(row[0] for row in cur.fetchall())
        conn.commit()
        if not ids:
            break
        began = time.perf_counter()
        cur.execute(delete, (ids[0], ids[-1], cutoff))
        deleted += cur.rowcount
        conn.commit()
        longest = max(longest, time.perf_counter() - began)
    elapsed = time.perf_counter() - start
    conn.close()
    return {"total_s": elapsed, "longest_ms": longest * 1000, "deleted": deleted}


def _canonical_rows(cur: Any) -> Iterator[bytes]:
    while batch := cur.fetchmany(2000):
        for row in batch:
            yield json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")


def w_seal(side: str, p: dict[str, Any]) -> Result:
    """Scelle puis vérifie tout le journal ; `raw` lit et hache les mêmes lignes (SHA-256)."""
    rows = p["sealed"]
    if side == "raw":
        conn = raw_connect()
        out: Result = {}
        for step in ("seal_rows_s", "verify_rows_s"):
            cur = conn.cursor()
            start = time.perf_counter()
            cur.execute(
                "SELECT id, actor, action, target_type, target_id, details, created_at, "
                "request_id, ip FROM audit_log ORDER BY id"
            )
            digest = hashlib.sha256()
            n = 0
            for line in _canonical_rows(cur):
                digest.update(len(line).to_bytes(4, "big"))
                digest.update(line)
                n += 1
            out[step] = n / (time.perf_counter() - start)
        conn.close()
        return out
    seal = feature("forge_mvc_audit", "seal_audit_log")
    verify = feature("forge_mvc_audit", "verify_audit_log")
    start = time.perf_counter()
    seal()
    seal_s = time.perf_counter() - start
    start = time.perf_counter()
    report = verify()
    verify_s = time.perf_counter() - start
    ok = getattr(report, "ok", None)
    if ok is None:
        ok = getattr(report, "intact", None)
    return {
        "seal_rows_s": rows / seal_s,
        "verify_rows_s": rows / verify_s,
        "verify_ok": None if ok is None else bool(ok),
    }


class JournalSite:
    """Une application Forge minimale qui sert la page du journal, appelée sans réseau.

    Ce qu'un projet `forge new` monte, réduit au nécessaire et avec les seules
    API du cœur de Forge (forge-mvc-testing n'est pas une dépendance) : routeur,
    `AuthMiddleware` adossé à une table de comptes, vues du squelette, rendu
    Jinja, session en mémoire posée directement (pas de formulaire de connexion).
    """

    USERS_TABLE = "bench_web_users"

    def __init__(self, register_audit_routes: Any, views_root: str) -> None:
        import shutil

        import core.forge as forge
        import skeleton
        from core.app.application import Application
        from core.app.wsgi import create_wsgi_app
        from core.auth.password import hash_password
        from core.auth.session import get_authenticated_user_id
        from core.database import db
        from core.http.router import Router
        from core.security.middleware import AuthMiddleware
        from core.sessions.access import SESSION_COOKIE_NAME
        from core.sessions.keys import SESSION_KEY_AUTH_USER_ID
        from core.sessions.manager import get_session_store
        from core.templating.manager import template_manager
        from integrations.jinja2.renderer import Jinja2Renderer

        views = os.path.join(views_root, "views")
        shutil.copytree(
            os.path.join(os.path.dirname(skeleton.__file__), "data", "mvc", "views"), views
        )
        table = self.USERS_TABLE
        db.execute(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, login VARCHAR(100) NOT NULL, "
            "password_hash VARCHAR(255) NOT NULL, is_admin INTEGER NOT NULL)"
        )
        db.execute(
            f"INSERT INTO {table} (id, login, password_hash, is_admin) VALUES (?, ?, ?, ?)",
            (1, "directrice", hash_password("banc sans valeur"), 1),
        )

        def load_user(user_id: object) -> dict[str, Any] | None:
            return db.fetch_one(
                f"SELECT id, login, password_hash, is_admin FROM {table} WHERE id = ?", (user_id,)
            )

        def is_admin(request: Any) -> bool:
            # La garde d'une vraie application : relire le compte à chaque requête.
            user = load_user(get_authenticated_user_id(request))
            return bool(user and int(user["is_admin"]))

        router = Router()
        register_audit_routes(router, guard=is_admin)
        forge.configure(app_name="Banc", app_env="prod", views_dir=views, router=router)
        template_manager.register(Jinja2Renderer(views))
        application = Application(
            router,
            middlewares=[AuthMiddleware("/login", user_loader=load_user)],
            api_routes_module=None,
        )
        self.app = create_wsgi_app(application, emit_prod_warnings=False)

        sessions = get_session_store()
        session_id = sessions.authenticate(sessions.create(), {"id": 1}, 3600)
        if session_id is None:
            raise RuntimeError("le magasin de sessions a refusé la session du banc")
        data = sessions.get(session_id) or {}
        data[SESSION_KEY_AUTH_USER_ID] = 1
        sessions.set(session_id, data)
        self.cookie = f"{SESSION_COOKIE_NAME}={session_id}"

    def get(self, path: str, query: dict[str, str]) -> tuple[str, bytes, float]:
        """(statut, corps, secondes passées dans le callable WSGI et son itérable)."""
        import io
        from urllib.parse import urlencode

        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query),
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "443",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": self.cookie,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": "0",
        }
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(line)
            return lambda _data: None

        start = time.perf_counter()
        chunks = self.app(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if callable(close):
                close()
        elapsed = time.perf_counter() - start
        return (status[0] if status else "?"), body, elapsed


def w_web(side: str, p: dict[str, Any]) -> Result:
    """Chaque filtre : médiane (et maximum) de `calls` GET de la page, temps serveur."""
    import shutil
    import tempfile

    register_audit_routes = feature("forge_mvc_audit", "register_audit_routes")
    count_audit = feature("forge_mvc_audit", "count_audit")
    from core.database import db

    # Quelques entrées d'une même requête HTTP : le jeu généré n'a pas de request_id.
    tag = p["request_tag"]
    for row_id in tag["ids"]:
        db.execute("UPDATE audit_log SET request_id = ? WHERE id = ?", (tag["request_id"], row_id))
    views_root = tempfile.mkdtemp(prefix="bench-web-", dir=os.getcwd())
    try:
        site = JournalSite(register_audit_routes, views_root)
        out: dict[str, Any] = {}
        for name, filters in p["filters"].items():
            matches = count_audit(**filters)
            # Premier appel hors mesure (gabarit compilé, caches chauds), et preuve que
            # la page rend bien le résultat : statut 200 et total affiché.
            line, body, _ = site.get(p["path"], filters)
            total = f"{matches:,}".replace(",", "\u202f").encode()
            if not line.startswith("200") or total not in body:
                raise RuntimeError(
                    f"page « {name} » : {line}, {len(body)} octets, total {matches} absent"
                )
            times = [site.get(p["path"], filters)[2] for _ in range(p["calls"])]
            out[name] = {
                "ms": statistics.median(times) * 1000,
                "max_ms": max(times) * 1000,
                "matches": matches,
            }
    finally:
        shutil.rmtree(views_root, ignore_errors=True)
    return {"filters": out}


def w_schema(side: str, p: dict[str, Any]) -> Result:
    """Les instructions de la migration du paquet, rendues pour DB_BACKEND par Forge."""
    from cli._support.optin_migrations import iter_migration_resources
    from core.database.sql_script import split_sql_statements

    statements: list[str] = []
    for _name, content in iter_migration_resources("forge_mvc_audit"):
        statements.extend(split_sql_statements(content.decode("utf-8")))
    return {"statements": statements}


def w_versions(side: str, p: dict[str, Any]) -> Result:
    import sqlite3
    from importlib.metadata import version

    return {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "forge-mvc": version("forge-mvc"),
        "forge-mvc-audit": version("forge-mvc-audit"),
    }


WORKLOADS: dict[str, Callable[[str, dict[str, Any]], Result]] = {
    "record_standalone": w_record_standalone,
    "record_tx": w_record_tx,
    "read": w_read,
    "export": w_export,
    "purge": w_purge,
    "seal": w_seal,
    "web": w_web,
    "schema": w_schema,
    "versions": w_versions,
}


def main() -> None:
    params: dict[str, Any] = json.loads(sys.argv[1])
    try:
        result = WORKLOADS[params["workload"]](params["side"], params)
        result["available"] = True
    except Unavailable as missing:
        result = {"available": False, "reason": str(missing)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
