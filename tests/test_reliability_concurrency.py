"""Charge concurrente : 8 threads puis 4 processus x 500 `record_audit`, sur chaque backend.

Chaque ligne porte une marque unique (`target_id` = « écrivain:numéro ») : on
vérifie ensuite que chacune est présente exactement une fois, et qu'aucun
écrivain n'a vu d'erreur. Sur SQLite, un écrivain qui trouve le fichier
verrouillé attend, dans la limite de DB_POOL_TIMEOUT (posé ici à 30 s), puis
réussit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections import Counter

import pytest
from core.database import db

from conftest import ROOT, Backend
from forge_mvc_audit import record_audit

PER_WRITER = 500
THREADS = 8
PROCESSES = 4

#: Écrivain d'un processus fils : ses 500 entrées, puis « ok » ; toute erreur
#: sort en trace sur stderr et en code retour non nul.
_CHILD = """
import sys
from forge_mvc_audit import record_audit
marker, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    record_audit("charge.processus", actor=marker, target_type="charge", target_id=f"{writer}:{i}")
print("ok")
"""


@pytest.fixture
def loaded(audit_db: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    # Lu à chaque connexion SQLite, et à la création du pool des serveurs.
    monkeypatch.setenv("DB_POOL_TIMEOUT", "30")
    return audit_db


def _marks(marker: str) -> Counter[str]:
    rows = db.fetch_all("SELECT target_id FROM audit_log WHERE actor = ?", (marker,))
    return Counter(str(row["target_id"]) for row in rows)


def _expected(writers: int) -> Counter[str]:
    return Counter(f"w{w}:{i}" for w in range(writers) for i in range(PER_WRITER))


def test_threads_each_row_exactly_once(loaded: Backend) -> None:
    marker = f"threads-{uuid.uuid4().hex[:8]}"
    errors: list[BaseException] = []
    ids: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def writer(w: int) -> None:
        start.wait()
        try:
            for i in range(PER_WRITER):
                new_id = record_audit(
                    "charge.threads", actor=marker, target_type="charge", target_id=f"w{w}:{i}"
                )
                with lock:
                    ids.append(new_id)
        except BaseException as error:
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "un écrivain ne s'est pas arrêté"
    assert errors == []
    assert _marks(marker) == _expected(THREADS)
    # Chaque appel a rendu l'identifiant de sa propre ligne : aucun doublon.
    assert len(set(ids)) == THREADS * PER_WRITER


def test_processes_each_row_exactly_once(loaded: Backend) -> None:
    marker = f"processus-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DB_")}
    env.update(loaded.env)
    env["DB_POOL_TIMEOUT"] = "30"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, marker, f"w{w}", str(PER_WRITER)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(PROCESSES)
    ]
    outcomes = [child.communicate(timeout=300) for child in children]
    for child, (out, err) in zip(children, outcomes, strict=True):
        assert child.returncode == 0, err[-2000:]
        assert out.strip() == "ok"
    assert _marks(marker) == _expected(PROCESSES)
