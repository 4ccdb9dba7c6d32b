"""Banc rétention et scellement, SQLite (pas un test : des chiffres).

    PYTHONPATH=src python bench/bench_retention.py [--rows 1000000] [--old 500000]

Construit un journal de `--rows` entrées dont `--old` sont antérieures à la
borne, puis mesure, chacun sur sa copie du fichier :

- la purge de la version publiée 1.0.0rc9 (un seul DELETE), dans /work/.venv-ref
  (ou le Python donné par AUDIT_REF_PYTHON) ;
- notre purge par lots d'un journal jamais scellé : durée totale, plus longue
  instruction (SELECT ou DELETE) et plus long lot (instructions + COMMIT d'une
  transaction) ;
- pendant ces deux purges, un écrivain qui appelle record_audit toutes les
  20 ms : attente la plus longue et échecs (« database is locked ») ;
- le scellement du journal entier, sa vérification (entrées/s), puis la purge
  des segments scellés et la vérification après purge.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF_PYTHON = os.environ.get("AUDIT_REF_PYTHON", "/work/.venv-ref/bin/python")
CUTOFF = "2026-01-01 00:00:00"

_CHILD = r"""
import json, sys, threading, time
mode, cutoff, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
import forge_mvc_audit as audit
out = {}
stop = threading.Event()
waits = []
failures = []

def writer():
    # Un écrivain de l'application pendant la purge : combien attend-il ?
    while not stop.is_set():
        start = time.perf_counter()
        try:
            audit.record_audit("pendant.la.purge", actor="banc")
        except Exception as error:
            failures.append(type(error).__name__)
        waits.append(time.perf_counter() - start)
        time.sleep(0.02)

def start_writer():
    thread = threading.Thread(target=writer)
    thread.start()
    return thread

def stop_writer(thread):
    stop.set()
    thread.join()
    out["writes"] = len(waits)
    out["write_max_ms"] = 1000 * max(waits, default=0.0)
    out["write_failures"] = len(failures)
if mode == "ref":
    thread = start_writer()
    t = time.perf_counter()
    try:
        out["deleted"] = audit.purge_audit_before(cutoff)
    finally:
        out["total"] = time.perf_counter() - t
        stop_writer(thread)
    out["longest"] = out["total"]
else:
    if mode == "sealed":
        t = time.perf_counter()
        r = audit.seal_audit_log(key="clé-de-banc", lag_seconds=0)
        out["seal_s"] = time.perf_counter() - t
        out["sealed_rows"] = r.rows
        t = time.perf_counter()
        rep = audit.verify_audit_log(key="clé-de-banc")
        out["verify_s"] = time.perf_counter() - t
        out["verify_rows"] = rep.rows
        out["verify_ok"] = rep.ok
    marks = []
    t = time.perf_counter()
    marks.append(t)
    def tick(done):
        marks.append(time.perf_counter())
    from core.database import db as forge_db
    longest = [0.0]

    class Timed:
        # Mesure chaque instruction envoyée par la purge (le COMMIT à part).
        def __getattr__(self, name):
            call = getattr(forge_db, name)
            def timed(*args, **kwargs):
                start = time.perf_counter()
                try:
                    return call(*args, **kwargs)
                finally:
                    longest[0] = max(longest[0], time.perf_counter() - start)
            return timed

    thread = start_writer() if mode == "plain" else None
    try:
        out["deleted"] = audit.purge_audit_before(
            cutoff, batch_size=batch, key="clé-de-banc", progress=tick, db=Timed()
        )
    finally:
        if thread is not None:
            stop_writer(thread)
    out["statement"] = longest[0]
    end = time.perf_counter()
    out["total"] = end - t
    out["longest"] = max(b - a for a, b in zip(marks, marks[1:] + [end]))
    out["batches"] = len(marks) - 1
    if mode == "sealed":
        t = time.perf_counter()
        rep = audit.verify_audit_log(key="clé-de-banc")
        out["verify_after_s"] = time.perf_counter() - t
        out["verify_after_rows"] = rep.rows
        out["verify_after_ok"] = rep.ok
print(json.dumps(out))
"""


def build(path: Path, rows: int, old: int) -> None:
    conn = sqlite3.connect(path)
    for migration in sorted((ROOT / "migrations" / "sqlite").glob("*.sql")):
        conn.executescript(migration.read_text())
    base_old = datetime(2025, 1, 1)
    base_new = datetime(2026, 1, 2)

    def gen():  # pyright: ignore[reportUnknownParameterType]
        for i in range(rows):
            if i < old:
                stamp = base_old + timedelta(seconds=i * 30)
            else:
                stamp = base_new + timedelta(seconds=(i - old) * 5)
            yield (
                f"user{i % 500}",
                f"note.modifiee.{i % 20}",
                "note",
                str(i % 10000),
                f'{{"avant": {i % 20}, "apres": {(i + 1) % 20}, "motif": "correction"}}',
                stamp.strftime("%Y-%m-%d %H:%M:%S"),
                f"req-{i}",
                "192.0.2.1",
            )

    conn.executemany(
        "INSERT INTO audit_log (actor, action, target_type, target_id, details, created_at,"
        " request_id, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        gen(),
    )
    conn.commit()
    conn.close()


def run(
    python: str, mode: str, db_path: Path, pythonpath: str | None, batch: int = 5000
) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update({"DB_BACKEND": "sqlite", "DB_NAME": str(db_path)})
    done = subprocess.run(
        [python, "-c", _CHILD, mode, CUTOFF, str(batch)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{mode} a échoué :\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--old", type=int, default=500_000)
    parser.add_argument("--batch", type=int, default=5000, help="batch_size de notre purge")
    parser.add_argument("--wal", action="store_true", help="base en journal_mode=WAL")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base.db"
        t = time.perf_counter()
        build(base, options.rows, options.old)
        if options.wal:
            with sqlite3.connect(base) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
        print(f"journal de {options.rows} entrées construit en {time.perf_counter() - t:.1f} s")
        copies = {}
        for name in ("ref", "plain", "sealed"):
            copies[name] = Path(tmp) / f"{name}.db"
            shutil.copy(base, copies[name])
        ours = str(ROOT / "src")
        results = {
            "ref": run(REF_PYTHON, "ref", copies["ref"], None),
            "plain": run(sys.executable, "plain", copies["plain"], ours, options.batch),
            "sealed": run(sys.executable, "sealed", copies["sealed"], ours, options.batch),
        }
    ref, plain, sealed = results["ref"], results["plain"], results["sealed"]
    print(f"batch_size={options.batch}, journal SQLite {'WAL' if options.wal else 'DELETE'}")
    print(f"1.0.0rc9, un DELETE     : {ref['deleted']} supprimées en {ref['total']:.2f} s")
    for label, res in (("1.0.0rc9", ref), ("par lots", plain)):
        print(
            f"  écrivain concurrent ({label}) : {res['writes']} record_audit, attente max "
            f"{float(res['write_max_ms']):.0f} ms, {res['write_failures']} échec(s)"  # type: ignore[arg-type]
        )
    for label, res in (("par lots, non scellé", plain), ("par lots, scellé", sealed)):
        ratio = float(res["total"]) / float(ref["total"])  # type: ignore[arg-type]
        print(
            f"{label:<23}: {res['deleted']} supprimées en {res['total']:.2f} s "
            f"({ratio:.2f}x la référence), {res['batches']} lots, plus long lot "
            f"{1000 * float(res['longest']):.0f} ms, plus longue instruction "  # type: ignore[arg-type]
            f"{1000 * float(res['statement']):.0f} ms"  # type: ignore[arg-type]
        )
    rows = int(sealed["sealed_rows"])  # type: ignore[arg-type]
    print(
        f"scellement             : {rows} entrées en {sealed['seal_s']:.2f} s "
        f"({rows / float(sealed['seal_s']):,.0f} entrées/s)"  # type: ignore[arg-type]
    )
    vrows = int(sealed["verify_rows"])  # type: ignore[arg-type]
    print(
        f"vérification           : {vrows} entrées en {sealed['verify_s']:.2f} s "
        f"({vrows / float(sealed['verify_s']):,.0f} entrées/s), intact={sealed['verify_ok']}"  # type: ignore[arg-type]
    )
    arows = int(sealed["verify_after_rows"])  # type: ignore[arg-type]
    print(
        f"vérification après purge : {arows} entrées en {sealed['verify_after_s']:.2f} s, "
        f"intact={sealed['verify_after_ok']}"
    )


if __name__ == "__main__":
    main()
