"""Orchestre le banc : données, alternance ours/ref, médianes, tableau Markdown.

Lancé par bench/run.sh (qui prépare les deux venvs). Chaque mesure tourne dans
un processus neuf (bench/worker.py) : ours et ref alternent à chaque
répétition, et la médiane des répétitions est retenue.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
RESULTS = BENCH / "results"
WORKER = BENCH / "worker.py"
TS = "%Y-%m-%d %H:%M:%S"
NA = "non disponible"
#: Change quand le générateur change : invalide les bases en cache.
GENERATOR_VERSION = "3"
HOST = "127.0.0.1"


# --------------------------------------------------------------------------
# Données : un journal réaliste, déterministe
# --------------------------------------------------------------------------

ENTITIES = (
    "note",
    "eleve",
    "classe",
    "utilisateur",
    "document",
    "paiement",
    "parametre",
    "absence",
)
VERBS = ("cree", "modifie", "supprime", "consulte", "exporte")
RARE_ACTOR = "audit.rare"
ABSENT_ACTOR = "personne.absente"
BUSY_ACTOR = "user.004"


@dataclass
class Dataset:
    """Ce que le pilote sait d'un journal généré, sans le relire."""

    rows: int
    start: datetime
    step: int
    sample_target: tuple[str, str]
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def stamp(self, row_id: int) -> str:
        return (self.start + timedelta(seconds=(row_id - 1) * self.step)).strftime(TS)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "start": self.start.strftime(TS),
            "step": self.step,
            "sample_target": list(self.sample_target),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dataset:
        start = datetime.strptime(data["start"], TS)
        target = data["sample_target"]
        return cls(data["rows"], start, data["step"], (target[0], target[1]))


def plan_dataset(rows: int) -> Dataset:
    """Un an d'activité qui se termine hier, à pas constant (created_at croît avec l'id)."""
    end = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    end -= timedelta(days=1)
    span = 365 * 86400
    step = max(1, span // max(rows, 1))
    start = end - timedelta(seconds=step * rows)
    return Dataset(rows, start, step, ("", ""))


def generate(
    ds: Dataset,
) -> Iterator[tuple[str | None, str, str | None, str | None, str | None, str]]:
    """(actor, action, target_type, target_id, details, created_at), id croissant."""
    rng = random.Random(20261203)
    actors = [f"user.{k:03d}" for k in range(300)]
    actor_weights = [1 / (k + 1) ** 1.1 for k in range(300)]
    actions = [(e, f"{e}.{v}") for e in ENTITIES for v in VERBS]
    action_weights = [1 / (k + 1) ** 0.8 for k in range(len(actions))]
    chunk = 50_000
    row_id = 0
    while row_id < ds.rows:
        size = min(chunk, ds.rows - row_id)
        who = rng.choices(actors, cum_weights=None, weights=actor_weights, k=size)
        what = rng.choices(actions, weights=action_weights, k=size)
        for k in range(size):
            row_id += 1
            entity, action = what[k]
            actor: str | None = who[k]
            if row_id in (10, 20, 30):
                actor = RARE_ACTOR
            elif row_id % 97 == 0:
                actor = None  # tâche planifiée, sans utilisateur
            target_id = str(rng.randint(1, 50_000)) if entity != "parametre" else None
            details = (
                None
                if rng.random() < 0.3
                else f"champ={rng.randint(1, 9)} {rng.randint(0, 20)} -> {rng.randint(0, 20)}"
            )
            yield (actor, action, entity, target_id, details, ds.stamp(row_id))


INSERT_BASE = (
    "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)


def fill(ds: Dataset, insert_many: Any, chunk: int = 20_000) -> None:
    """Appelle `insert_many(batch)` par paquets ; note une cible existante au passage."""
    batch: list[tuple[Any, ...]] = []
    wanted = max(1, int(ds.rows * 0.9))
    for row_id, row in enumerate(generate(ds), start=1):
        if row_id == wanted:
            ds.sample_target = (str(row[2]), str(row[3]))
        batch.append(row)
        if len(batch) >= chunk:
            insert_many(batch)
            batch = []
    if batch:
        insert_many(batch)


# --------------------------------------------------------------------------
# Stockage : fichiers SQLite ou bases jetables sur les serveurs locaux
# --------------------------------------------------------------------------


class Store:
    backend = "sqlite"

    def __init__(self) -> None:
        self.work = DATA / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.created: list[str] = []

    def key(self, statements: list[str], rows: int) -> str:
        text = "\n".join([GENERATOR_VERSION, str(rows), self.backend, *statements])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def build(self, side: str, statements: list[str], rows: int) -> tuple[str, Dataset]:
        """Une base remplie (en cache pour SQLite) : son nom et son jeu de données."""
        target = DATA / f"{side}-{rows}-{self.key(statements, rows)}.db"
        meta = target.with_suffix(".json")
        if target.exists() and meta.exists():
            return str(target), Dataset.from_json(json.loads(meta.read_text()))
        ds = plan_dataset(rows)
        tmp = target.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        conn.execute("PRAGMA synchronous = OFF")
        creates = [s for s in statements if s.lstrip().upper().startswith("CREATE TABLE")]
        for s in creates:
            conn.execute(s)
        started = time.perf_counter()
        fill(ds, lambda batch: conn.executemany(INSERT_BASE, batch))
        conn.commit()
        for s in statements:
            if s not in creates:
                conn.execute(s)
        conn.commit()
        conn.close()
        tmp.rename(target)
        meta.write_text(json.dumps(ds.to_json()))
        log(f"base {target.name} construite en {time.perf_counter() - started:.1f} s")
        return str(target), ds

    def clone(self, name: str) -> str:
        copy = self.work / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(name, copy)
        self.created.append(str(copy))
        return str(copy)

    def drop(self, name: str) -> None:
        Path(name).unlink(missing_ok=True)
        for suffix in ("-journal", "-wal", "-shm"):
            Path(name + suffix).unlink(missing_ok=True)

    def env(self, name: str) -> dict[str, str]:
        return {"DB_BACKEND": "sqlite", "DB_NAME": name, "DB_POOL_TIMEOUT": "30"}

    def cleanup(self) -> None:
        for name in self.created:
            self.drop(name)


class ServerStore(Store):
    """Bases jetables `forge_bench_*` sur un serveur local, supprimées à la fin."""

    def fresh_name(self) -> str:
        name = f"forge_bench_{uuid.uuid4().hex[:12]}"
        self.created.append(name)
        return name

    def admin(self, database: str | None = None) -> Any:
        raise NotImplementedError

    def run_statements(self, database: str, statements: list[str]) -> None:
        conn = self.admin(database)
        cur = conn.cursor()
        for s in statements:
            cur.execute(s)
        conn.close()

    def build(self, side: str, statements: list[str], rows: int) -> tuple[str, Dataset]:
        name = self.fresh_name()
        self.create_db(name)
        self.run_statements(name, statements)
        ds = plan_dataset(rows)
        started = time.perf_counter()
        self.load(name, ds)
        log(f"base {name} ({side}, {rows} lignes) chargée en {time.perf_counter() - started:.1f} s")
        return name, ds

    def create_db(self, name: str) -> None:
        raise NotImplementedError

    def load(self, name: str, ds: Dataset) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        for name in self.created:
            try:
                self.drop(name)
            except Exception as error:
                log(f"suppression de {name} impossible : {error}")


class PostgresStore(ServerStore):
    backend = "postgres"

    def __init__(self) -> None:
        super().__init__()
        self.port = int(os.environ.get("AUDIT_PG_PORT", "5432"))
        self.user = os.environ.get("AUDIT_PG_USER", "postgres")

    def admin(self, database: str | None = None) -> Any:
        import psycopg

        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=self.user,
            dbname=database or "postgres",
            autocommit=True,
        )

    def create_db(self, name: str, template: str = "template0") -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE {template}")

    def load(self, name: str, ds: Dataset) -> None:
        with self.admin(name) as conn, conn.cursor() as cur:
            columns = "actor, action, target_type, target_id, details, created_at"

            def copy(batch: list[tuple[Any, ...]]) -> None:
                with cur.copy(f"COPY audit_log ({columns}) FROM STDIN") as cp:
                    for row in batch:
                        cp.write_row(row)

            fill(ds, copy)
            cur.execute("ANALYZE audit_log")

    def clone(self, name: str) -> str:
        copy = self.fresh_name()
        self.create_db(copy, template=name)
        return copy

    def drop(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def env(self, name: str) -> dict[str, str]:
        return {
            "DB_BACKEND": "postgres",
            "DB_NAME": name,
            "DB_HOST": HOST,
            "DB_PORT": str(self.port),
            "DB_APP_LOGIN": self.user,
            # forge-mvc-postgres casse sur un mot de passe vide ; trust l'ignore.
            "DB_APP_PWD": os.environ.get("AUDIT_PG_PASSWORD") or "bench",
            "DB_POOL_TIMEOUT": "30",
        }


class MariaStore(ServerStore):
    backend = "mariadb"

    def __init__(self) -> None:
        super().__init__()
        self.port = int(os.environ.get("AUDIT_MARIADB_PORT", "3306"))
        self.user = os.environ.get("AUDIT_MARIADB_USER", "root")
        self.password = os.environ.get("AUDIT_MARIADB_PASSWORD", "")

    def admin(self, database: str | None = None) -> Any:
        import mariadb

        kwargs: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "autocommit": True,
        }
        if database:
            kwargs["database"] = database
        return mariadb.connect(**kwargs)

    def create_db(self, name: str) -> None:
        conn = self.admin()
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        conn.close()

    def load(self, name: str, ds: Dataset) -> None:
        conn = self.admin(name)
        conn.autocommit = False
        cur = conn.cursor()

        def insert(batch: list[tuple[Any, ...]]) -> None:
            cur.executemany(INSERT_BASE, batch)
            conn.commit()

        fill(ds, insert)
        cur.execute("ANALYZE TABLE audit_log")
        cur.fetchall()
        conn.close()

    def clone(self, name: str) -> str:
        copy = self.fresh_name()
        self.create_db(copy)
        conn = self.admin(copy)
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE audit_log LIKE {name}.audit_log")
        cur.execute(f"INSERT INTO audit_log SELECT * FROM {name}.audit_log")
        conn.close()
        return copy

    def drop(self, name: str) -> None:
        conn = self.admin()
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()

    def env(self, name: str) -> dict[str, str]:
        return {
            "DB_BACKEND": "mariadb",
            "DB_NAME": name,
            "DB_HOST": HOST,
            "DB_PORT": str(self.port),
            "DB_APP_LOGIN": self.user,
            "DB_APP_PWD": self.password,
            "DB_POOL_TIMEOUT": "30",
        }


# --------------------------------------------------------------------------
# Exécution des mesures
# --------------------------------------------------------------------------


def num(value: int) -> str:
    """1000000 -> « 1 000 000 »."""
    return f"{value:,}".replace(",", "\u202f")


def log(message: str) -> None:
    print(f"[INFO] {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, store: Store) -> None:
        self.args = args
        self.store = store
        self.python = {"ours": args.ours_python, "ref": args.ref_python, "raw": args.ours_python}
        self.reps = args.reps or (2 if args.quick else 3)
        self.big = 100_000 if args.quick else 1_000_000
        self.small = 10_000 if args.quick else 100_000
        self.schemas: dict[str, list[str]] = {}
        self.bases: dict[tuple[str, int], tuple[str, Dataset]] = {}

    def run(self, side: str, db_name: str | None, **params: Any) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["DB_BACKEND"] = self.store.backend
        if db_name is not None:
            env.update(self.store.env(db_name))
        env.update(params.pop("extra_env", {}))
        params["side"] = side
        proc = subprocess.run(
            [self.python[side], str(WORKER), json.dumps(params)],
            env=env,
            capture_output=True,
            text=True,
            cwd=str(self.store.work),
            timeout=3600,
        )
        if proc.returncode != 0:
            if side == "ours" and params["workload"] not in ("schema", "versions"):
                # Une fonctionnalité présente mais qui casse : la ligne le dit, le banc continue.
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                log(f"{params['workload']} ({side}) a échoué :\n{proc.stderr[-3000:]}")
                return {"available": False, "failed": True, "reason": f"ÉCHEC : {last[:160]}"}
            raise RuntimeError(f"{params['workload']} ({side}) a échoué :\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def schema(self, side: str) -> list[str]:
        if side not in self.schemas:
            self.schemas[side] = self.run(side, None, workload="schema")["statements"]
        return self.schemas[side]

    def base(self, side: str, rows: int) -> tuple[str, Dataset]:
        schema_side = "ours" if side == "raw" else side
        if (schema_side, rows) not in self.bases:
            self.bases[schema_side, rows] = self.store.build(
                schema_side, self.schema(schema_side), rows
            )
        return self.bases[schema_side, rows]

    def repeat(
        self, sides: tuple[str, ...], rows: int, fresh: bool, reps: int | None = None, **params: Any
    ) -> dict[str, list[dict[str, Any]]]:
        """Lance la charge `reps` fois par côté, l'ordre des côtés alternant à chaque tour."""
        results: dict[str, list[dict[str, Any]]] = {s: [] for s in sides}
        for rep in range(reps or self.reps):
            order = sides if rep % 2 == 0 else tuple(reversed(sides))
            for side in order:
                name, _ds = self.base(side, rows)
                target = self.store.clone(name) if fresh else name
                try:
                    out = self.run(side, target, **dict(params))
                finally:
                    if fresh:
                        self.store.drop(target)
                results[side].append(out)
                if not out["available"]:
                    # Absent une fois, absent toujours : inutile de répéter.
                    sides = tuple(s for s in sides if s != side)
        return results


def med(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get("available") and r.get(key) is not None]
    return statistics.median(values) if values else None


def reason(runs: list[dict[str, Any]]) -> str:
    for r in runs:
        if r.get("failed"):
            return f"**{r['reason']}**"
        if not r.get("available"):
            return f"{NA} ({r.get('reason', '')})"
    return NA


def fmt_rate(value: float | None, unit: str = "/s") -> str:
    if value is None:
        return NA
    if value >= 10_000:
        return f"{num(round(value / 1000))} k{unit}"
    return f"{num(round(value))} {unit}"


def fmt_ms(value: float | None) -> str:
    return NA if value is None else f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(value: float | None, what: str) -> str:
    return "—" if value is None else f"×{value:.2f} {what}"


@dataclass
class Row:
    label: str
    ours: str
    ref: str
    raw: str
    ratio: str
    target: str
    met: bool | None  # None : pas de cible, ou mesure impossible

    def cells(self) -> list[str]:
        met = "—" if self.met is None else ("oui" if self.met else "**non**")
        return [self.label, self.ours, self.ref, self.raw, self.ratio, self.target, met]


def judged(value: float | None, ok: bool) -> bool | None:
    return None if value is None else ok


# --------------------------------------------------------------------------
# Les charges, une fonction par section du tableau
# --------------------------------------------------------------------------


def bench_standalone(b: Bench) -> list[Row]:
    n = 200 if b.args.quick else 1000
    res = b.repeat(("ours", "ref", "raw"), 0, fresh=True, workload="record_standalone", n=n)
    ours, ref, raw = (med(res[s], "ops_s") for s in ("ours", "ref", "raw"))
    return [
        Row(
            f"record_audit seul, un commit chacun ({n} appels, base vide)",
            fmt_rate(ours, "op/s") if ours else reason(res["ours"]),
            fmt_rate(ref, "op/s") if ref else reason(res["ref"]),
            fmt_rate(raw, "op/s") + " (pilote seul, commit chacun)",
            f"{fmt_ratio(ratio(ours, ref), 'réf.')} ; {fmt_ratio(ratio(ours, raw), 'brut')}",
            "— (information)",
            None,
        )
    ]


def bench_tx(b: Bench) -> list[Row]:
    n = 5000 if b.args.quick else 20_000
    rows: list[Row] = []
    for size, label in ((0, "table neuve"), (b.big, f"table de {num(b.big)} lignes")):
        rates: dict[str, float | None] = {}
        why: dict[str, str] = {}
        variants = ("bare", "record_audit", "many", "raw", "raw_many")
        runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
        for rep in range(b.reps):
            order = variants if rep % 2 == 0 else tuple(reversed(variants))
            for v in order:
                if runs[v] and not runs[v][-1]["available"]:
                    continue
                side = "raw" if v.startswith("raw") else "ours"
                name, _ds = b.base(side, size)
                target = b.store.clone(name)
                try:
                    runs[v].append(b.run(side, target, workload="record_tx", variant=v, n=n))
                finally:
                    b.store.drop(target)
        for v in variants:
            rates[v] = med(runs[v], "rows_s")
            why[v] = reason(runs[v])
        bare, one, many, raw, raw_many = (rates[v] for v in variants)
        rows.append(
            Row(
                f"db.insert(tx=) nu de Forge, {n} lignes en une transaction, {label}",
                fmt_rate(bare, "lignes/s"),
                "—",
                fmt_rate(raw, "lignes/s") + " (executemany)",
                fmt_ratio(ratio(bare, raw), "brut"),
                "— (étalon)",
                None,
            )
        )
        r1 = ratio(one, bare)
        rows.append(
            Row(
                f"record_audit(tx=) en une transaction, {label}",
                fmt_rate(one, "lignes/s") if one else why["record_audit"],
                "non disponible (pas de tx= dans 1.0.0rc9)",
                fmt_rate(raw, "lignes/s"),
                fmt_ratio(r1, "db.insert nu"),
                "≥ 0.8× db.insert nu",
                judged(r1, (r1 or 0) >= 0.8),
            )
        )
        r2 = ratio(many, bare)
        rows.append(
            Row(
                f"record_audit_many(tx=), {label}",
                fmt_rate(many, "lignes/s") if many else why["many"],
                "non disponible (absent de 1.0.0rc9)",
                fmt_rate(raw_many, "lignes/s") + " (INSERT multi-lignes brut)",
                f"{fmt_ratio(r2, 'db.insert nu')} ; brut multi-lignes : "
                + fmt_ratio(ratio(raw_many, bare), "db.insert nu"),
                "≥ 2× db.insert nu",
                judged(r2, (r2 or 0) >= 2),
            )
        )
    return rows


def read_filters(ds: Dataset) -> dict[str, dict[str, Any]]:
    mid = ds.start + timedelta(seconds=ds.step * ds.rows // 2)
    day = mid.strftime("%Y-%m-%d")
    month_start = mid.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    target_type, target_id = ds.sample_target
    return {
        "actor": {"actor": BUSY_ACTOR},
        "action": {"action": "eleve.modifie"},
        "target_type": {"target_type": "document"},
        "target_type+target_id": {"target_type": target_type, "target_id": target_id},
        "période d'un jour": {"since": day, "until": day},
        "actor + un mois": {
            "actor": BUSY_ACTOR,
            "since": month_start.strftime("%Y-%m-%d"),
            "until": month_end.strftime("%Y-%m-%d"),
        },
        "acteur rare (3 lignes, les plus anciennes)": {"actor": RARE_ACTOR},
        "acteur absent": {"actor": ABSENT_ACTOR},
    }


def bench_read(b: Bench) -> list[Row]:
    _name, ds = b.base("ours", b.big)
    b.base("ref", b.big)
    filters = read_filters(ds)
    calls = 10 if b.args.quick else 30
    res = b.repeat(
        ("ours", "ref"), b.big, fresh=False, workload="read", filters=filters, calls=calls
    )
    rows: list[Row] = []
    for fname in filters:
        ours = [r["filters"][fname] for r in res["ours"] if r["available"]]
        ref = [r["filters"][fname] for r in res["ref"] if r["available"]]
        o = statistics.median(x["ms"] for x in ours) if ours else None
        f = statistics.median(x["ms"] for x in ref) if ref else None
        same = bool(ours and ref and ours[0]["ids"] == ref[0]["ids"])
        rare = "rare" in fname or "absent" in fname
        speedup = ratio(f, o)
        ok = o is not None and o <= 1.0 and same and (not rare or (speedup or 0) >= 50)
        target = "≤ 1 ms, mêmes entrées" + (" et ≥ 50× plus rapide que réf." if rare else "")
        rows.append(
            Row(
                f"get_audit_log(limit=20) à {num(b.big)} lignes : {fname}",
                fmt_ms(o) if o is not None else reason(res["ours"]),
                fmt_ms(f),
                "—",
                ("—" if speedup is None else f"×{speedup:.1f} plus rapide")
                + (
                    f" ; mêmes entrées ({len(ours[0]['ids'])})"
                    if same
                    else " ; **entrées différentes**"
                ),
                target,
                judged(o, ok),
            )
        )
    return rows


def bench_export(b: Bench) -> list[Row]:
    rows: list[Row] = []
    per: dict[int, dict[str, tuple[float | None, float | None]]] = {}
    why: dict[str, str] = {}
    for size in (b.small, b.big):
        res = b.repeat(("ours", "ref", "raw"), size, fresh=False, workload="export", expected=size)
        per[size] = {s: (med(res[s], "rows_s"), med(res[s], "rss_mb")) for s in res}
        why.update({s: reason(res[s]) for s in res})
        (o, om), (f, fm), (r, _rm) = per[size]["ours"], per[size]["ref"], per[size]["raw"]
        big = size == b.big
        rr = ratio(o, f)
        rows.append(
            Row(
                f"export complet iter_audit_rows, {num(size)} lignes (débit ; pic RSS)",
                f"{fmt_rate(o, 'lignes/s')} ; {om:.0f} Mo" if o and om else why["ours"],
                f"{fmt_rate(f, 'lignes/s')} ; {fm:.0f} Mo" if f and fm else why["ref"],
                f"{fmt_rate(r, 'lignes/s')} (curseur brut)",
                fmt_ratio(rr, "réf."),
                "≥ 1.5× réf." if big else "— (information)",
                judged(rr, (rr or 0) >= 1.5) if big else None,
            )
        )
    om_small, om_big = per[b.small]["ours"][1], per[b.big]["ours"][1]
    fm_small, fm_big = per[b.small]["ref"][1], per[b.big]["ref"][1]
    growth = None if om_small is None or om_big is None else om_big - om_small
    ref_growth = None if fm_small is None or fm_big is None else fm_big - fm_small
    rows.append(
        Row(
            f"croissance du pic RSS de l'export, {num(b.big)} vs {num(b.small)} lignes",
            NA if growth is None else f"{growth:+.1f} Mo",
            NA if ref_growth is None else f"{ref_growth:+.1f} Mo",
            "—",
            "—",
            "≤ 20 Mo",
            judged(growth, (growth or 0) <= 20),
        )
    )
    return rows


def bench_purge(b: Bench) -> list[Row]:
    _name, ds = b.base("ours", b.big)
    b.base("ref", b.big)
    half = b.big // 2
    cutoff = ds.stamp(half + 1)
    reps = 2 if b.args.quick else 3
    res = b.repeat(
        ("ours", "ref", "raw"), b.big, fresh=True, reps=reps, workload="purge", cutoff=cutoff
    )
    for side in ("ours", "ref", "raw"):
        for r in res[side]:
            if r["available"] and r["deleted"] != half:
                r.update(
                    available=False,
                    failed=True,
                    reason=f"ÉCHEC : {r['deleted']} lignes supprimées, {half} attendues",
                )
    # Les mêmes lots de 5 000, pilote seul et sans pause, sur notre schéma et sur
    # celui de 1.0.0rc9 : ce que coûte le découpage lui-même.
    batched: dict[str, list[dict[str, Any]]] = {"ours": [], "ref": []}
    for _rep in range(reps):
        for schema in ("ours", "ref"):
            target = b.store.clone(b.base(schema, b.big)[0])
            try:
                batched[schema].append(
                    b.run("raw", target, workload="purge", cutoff=cutoff, batch=5000)
                )
            finally:
                b.store.drop(target)
    total = {s: med(res[s], "total_s") for s in res}
    longest = {s: med(res[s], "longest_ms") for s in res}
    floor = {s: med(batched[s], "total_s") for s in batched}
    rt = ratio(total["ours"], total["ref"])
    raw_cell = "—"
    if total["raw"] is not None:
        raw_cell = f"{total['raw']:.2f} s (un DELETE brut, notre schéma)"
    if floor["ours"] is not None and floor["ref"] is not None:
        raw_cell += (
            f" ; lots de 5 000 sans pause : {floor['ours']:.2f} s (notre schéma), "
            f"{floor['ref']:.2f} s (schéma 1.0.0rc9, ×{floor['ref'] / (total['ref'] or 1):.1f} "
            "son DELETE unique)"
        )
    label = f"purge de {num(half)} lignes anciennes sur {num(b.big)}"
    return [
        Row(
            f"{label} : durée totale",
            reason(res["ours"]) if total["ours"] is None else f"{total['ours']:.2f} s",
            reason(res["ref"]) if total["ref"] is None else f"{total['ref']:.2f} s (un DELETE)",
            raw_cell,
            fmt_ratio(rt, "réf."),
            "≤ 2× réf.",
            judged(rt, (rt or 99) <= 2),
        ),
        Row(
            f"{label} : plus longue instruction",
            reason(res["ours"]) if longest["ours"] is None else fmt_ms(longest["ours"]),
            fmt_ms(longest["ref"]),
            fmt_ms(longest["raw"]),
            "—",
            "≤ 100 ms",
            judged(longest["ours"], (longest["ours"] or 1e9) <= 100),
        ),
    ]


def bench_seal(b: Bench) -> list[Row]:
    res = b.repeat(
        ("ours", "raw"),
        b.big,
        fresh=True,
        workload="seal",
        sealed=b.big,
        extra_env={"AUDIT_SEAL_KEY": "cle-de-banc-sans-valeur"},
    )
    rows: list[Row] = []
    for key, label, target in (
        ("seal_rows_s", "scellement (forge audit:seal)", None),
        ("verify_rows_s", "vérification (forge audit:verify)", 200_000.0),
    ):
        o, r = med(res["ours"], key), med(res["raw"], key)
        verdict = ""
        if key == "verify_rows_s" and any(x.get("verify_ok") is False for x in res["ours"]):
            verdict = " (**le rapport dit le journal altéré**)"
        rows.append(
            Row(
                f"{label}, {num(b.big)} lignes",
                fmt_rate(o, "lignes/s") + verdict if o else reason(res["ours"]),
                "non disponible (absent de 1.0.0rc9)",
                f"{fmt_rate(r, 'lignes/s')} (lecture + SHA-256 brute)",
                fmt_ratio(ratio(o, r), "limite physique"),
                "— (information)" if target is None else "≥ 200 k lignes/s",
                None if target is None else judged(o, (o or 0) >= target),
            )
        )
    return rows


WEB_PATH = "/admin/audit"


def web_filters(ds: Dataset) -> tuple[dict[str, dict[str, str]], dict[str, Any]]:
    """Les pages mesurées (paramètres d'URL) et les entrées à marquer d'un request_id."""
    read = read_filters(ds)
    first_day = ds.start.date()
    mid = ds.rows // 2
    request_id = "req-banc-web"
    filters: dict[str, dict[str, str]] = {
        name: {k: str(v) for k, v in read[name].items()}
        for name in (
            "actor",
            "action",
            "période d'un jour",
            "actor + un mois",
            "target_type+target_id",
        )
    }
    filters["request_id (4 entrées)"] = {"request_id": request_id}
    # Les pires cas : une période seule, longue et ancienne. Le jeu couvre un an : l'année
    # la plus ancienne est tout le journal ; le premier mois laisse onze mois plus récents
    # à enjamber avant la première entrée de la page.
    filters["pire cas : période seule, l'année la plus ancienne (tout le journal)"] = {
        "since": first_day.isoformat(),
        "until": (first_day + timedelta(days=364)).isoformat(),
    }
    filters["pire cas : période seule, le premier mois du journal"] = {
        "since": first_day.isoformat(),
        "until": (first_day + timedelta(days=30)).isoformat(),
    }
    return filters, {"request_id": request_id, "ids": list(range(mid, mid + 4))}


def bench_web(b: Bench) -> list[Row]:
    _name, ds = b.base("ours", b.big)
    filters, tag = web_filters(ds)
    calls = 10 if b.args.quick else 20
    # Copie neuve à chaque répétition : la charge ajoute sa table de comptes et un request_id.
    res = b.repeat(
        ("ours",),
        b.big,
        fresh=True,
        workload="web",
        path=WEB_PATH,
        filters=filters,
        request_tag=tag,
        calls=calls,
    )
    ok_runs = [r for r in res["ours"] if r["available"]]
    rows: list[Row] = []
    for fname in filters:
        runs = [r["filters"][fname] for r in ok_runs]
        o = statistics.median(x["ms"] for x in runs) if runs else None
        detail = "—"
        if runs:
            n = runs[0]["matches"]
            plural = "s" if n > 1 else ""
            detail = (
                f"{num(n)} entrée{plural} filtrée{plural} ; "
                f"appel le plus lent {max(x['max_ms'] for x in runs):.1f} ms"
            )
        rows.append(
            Row(
                f"page web du journal filtrée, {num(b.big)} lignes (temps serveur, "
                f"GET {WEB_PATH}) : {fname}",
                fmt_ms(o) if o is not None else reason(res["ours"]),
                "non disponible (absente de 1.0.0rc9)",
                "—",
                detail,
                "≤ 50 ms",
                judged(o, (o or 1e9) <= 50),
            )
        )
    return rows


SECTIONS = {
    "standalone": bench_standalone,
    "tx": bench_tx,
    "read": bench_read,
    "export": bench_export,
    "purge": bench_purge,
    "seal": bench_seal,
    "web": bench_web,
}


# --------------------------------------------------------------------------
# Rapport
# --------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} Gio"
    except OSError:
        pass
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "mem": mem}


def server_version(store: Store) -> str:
    if isinstance(store, PostgresStore):
        with store.admin() as conn:
            return "PostgreSQL " + str(conn.execute("SHOW server_version").fetchone()[0])
    if isinstance(store, MariaStore):
        conn = store.admin()
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        version = str(cur.fetchone()[0])
        conn.close()
        return "MariaDB " + version
    return "SQLite " + sqlite3.sqlite_version


def render(b: Bench, rows: list[Row], started: float) -> str:
    ours_v = b.run("ours", None, workload="versions")
    ref_v = b.run("ref", None, workload="versions")
    m = machine()
    head = [
        "Mesure",
        "Nous",
        "Réf. 1.0.0rc9",
        "Brut (limite physique)",
        "Rapport",
        "Cible",
        "Atteinte",
    ]
    lines = [
        f"# Banc forge-mvc-audit — backend {b.store.backend}{' (--quick)' if b.args.quick else ''}",
        "",
        f"- Date : {datetime.now(UTC):%Y-%m-%d %H:%M} UTC ; durée du banc : "
        f"{(time.perf_counter() - started) / 60:.1f} min",
        f"- Machine : {m['nproc']} cœurs, {m['cpu']}, {m['mem']} de mémoire (partagée, bruitée)",
        f"- Python {ours_v['python']}, {server_version(b.store)}, forge-mvc {ours_v['forge-mvc']}",
        f"- Nous : forge-mvc-audit {ours_v['forge-mvc-audit']} (arbre de travail) ; "
        f"réf. : forge-mvc-audit {ref_v['forge-mvc-audit']} (PyPI)",
        f"- Médiane de {b.reps} répétitions, chacune dans un processus neuf, nous et la réf. "
        "en alternance ; « brut » = le pilote du backend seul, une connexion, le même SQL.",
        "- Les cibles chiffrées sont celles des tickets, fixées pour SQLite ; sur un serveur, "
        "elles sont indicatives.",
        "- « non disponible » : la fonctionnalité manque au paquet mesuré (la ligne se "
        "remplira d'elle-même quand elle arrivera).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" for _ in head) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |")
    judged_rows = [r for r in rows if r.met is not None]
    met = sum(1 for r in judged_rows if r.met)
    unmeasured = sum(1 for r in rows if r.target.startswith(("≥", "≤")) and r.met is None)
    failures = sum(1 for r in rows if "ÉCHEC" in r.ours)
    lines += [
        "",
        f"Cibles atteintes : {met} sur {len(judged_rows)} mesurées ; {unmeasured} "
        "cible(s) non mesurable(s) (fonctionnalité non disponible ou en échec) ; "
        f"{failures} mesure(s) en échec.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ours-python", required=True)
    parser.add_argument("--ref-python", required=True)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgres", "mariadb"))
    parser.add_argument("--quick", action="store_true", help="100 k lignes au lieu de 1 M")
    parser.add_argument("--reps", type=int, default=0, help="répétitions par mesure")
    parser.add_argument(
        "--only", default="", help=f"sections, séparées par des virgules : {','.join(SECTIONS)}"
    )
    parser.add_argument("--output", default="", help="fichier Markdown écrit")
    args = parser.parse_args()
    only = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        print(f"[ERREUR] Section inconnue : {unknown[0]} ({', '.join(SECTIONS)}).", file=sys.stderr)
        return 2
    store: Store = {"sqlite": Store, "postgres": PostgresStore, "mariadb": MariaStore}[
        args.backend
    ]()
    bench = Bench(args, store)
    started = time.perf_counter()
    rows: list[Row] = []
    try:
        for section in only:
            log(f"section {section}…")
            t0 = time.perf_counter()
            rows += SECTIONS[section](bench)
            log(f"section {section} : {time.perf_counter() - t0:.0f} s")
    finally:
        store.cleanup()
    text = render(bench, rows, started)
    print(text)
    # Un banc partiel (--only) n'écrase pas le tableau complet, suivi par git.
    part = "" if only == list(SECTIONS) else "-" + "-".join(only)
    default = (
        f"latest{part}.md"
        if not args.quick and args.backend == "sqlite"
        else (f"latest-{args.backend}{part}{'-quick' if args.quick else ''}.md")
    )
    out = Path(args.output) if args.output else RESULTS / default
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    log(f"tableau écrit dans {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
