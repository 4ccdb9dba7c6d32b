"""audit_context : acteur, requête et IP posés pour un bloc, par thread et par tâche."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import threading

import pytest

from conftest import Backend
from forge_mvc_audit import (
    AuditError,
    audit_context,
    current_audit_context,
    get_audit_log,
    record_audit,
)


def test_context_fills_actor_request_id_and_ip(audit_db: Backend) -> None:
    with audit_context(actor="cron:purge", request_id="job-1", ip="192.0.2.7") as ctx:
        record_audit("notes.purgees")
        record_audit("notes.purgees", actor="prof.dupont")  # l'argument explicite gagne
        assert current_audit_context() is ctx
    record_audit("hors.bloc")
    assert current_audit_context() is None
    rows = [(e.action, e.actor, e.request_id, e.ip) for e in get_audit_log()]
    assert rows == [
        ("hors.bloc", None, None, None),
        ("notes.purgees", "prof.dupont", "job-1", "192.0.2.7"),
        ("notes.purgees", "cron:purge", "job-1", "192.0.2.7"),
    ]


@pytest.mark.fast
def test_outermost_context_generates_a_request_id_and_nesting_inherits() -> None:
    with audit_context(actor="job") as outer:
        assert outer.request_id is not None and re.fullmatch(r"[0-9a-f]{32}", outer.request_id)
        with audit_context(actor="job:etape2") as inner:
            assert (inner.actor, inner.request_id) == ("job:etape2", outer.request_id)
            with audit_context(request_id=None, ip="::ffff:10.0.0.1") as innermost:
                assert innermost.actor == "job:etape2"
                assert innermost.request_id is None
                # La forme normalisée dépend de la version de Python (3.13 garde la forme pointée).
                assert innermost.ip == str(ipaddress.ip_address("::ffff:10.0.0.1"))
            assert current_audit_context() is inner
        assert current_audit_context() is outer
    with audit_context() as other:
        assert other.request_id != outer.request_id
    assert current_audit_context() is None


@pytest.mark.fast
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"actor": "a\x00"}, "NUL"),
        ({"actor": 12}, "chaîne"),
        ({"request_id": "x" * 65}, "request_id invalide"),
        ({"request_id": "a b"}, "request_id invalide"),
        ({"ip": "pas-une-ip"}, "ip invalide"),
        ({"ip": "fe80::1%" + "z" * 40}, "ip invalide"),
    ],
)
def test_bad_context_values_are_refused_on_entry(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(AuditError, match=message), audit_context(**kwargs):  # type: ignore[arg-type]
        pass
    assert current_audit_context() is None


@pytest.mark.fast
def test_context_is_restored_after_an_exception() -> None:
    with pytest.raises(RuntimeError), audit_context(actor="a"):
        raise RuntimeError
    assert current_audit_context() is None


def test_threads_do_not_see_each_other_context(audit_db: Backend) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with audit_context(actor=f"thread-{n}", request_id=f"req-{n}"):
                barrier.wait(timeout=30)  # tous les blocs sont ouverts en même temps
                for i in range(5):
                    record_audit("tache", target_id=i)
                barrier.wait(timeout=30)
        except BaseException as error:  # pragma: no cover — remonté ci-dessous
            errors.append(error)

    with audit_context(actor="principal"):
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        record_audit("principal.fini")
    assert not errors
    entries = get_audit_log()
    assert len(entries) == 21
    for e in entries:
        if e.action == "tache":
            assert e.actor is not None and e.request_id == e.actor.replace("thread", "req")
        else:
            assert e.actor == "principal"
    assert sorted({e.actor for e in entries if e.action == "tache"}) == [
        f"thread-{n}" for n in range(4)
    ]


def test_asyncio_tasks_each_keep_their_context(audit_db: Backend) -> None:
    async def handler(n: int, gate: asyncio.Event) -> None:
        with audit_context(actor=f"task-{n}", request_id=f"r{n}"):
            record_audit("debut", target_id=n)
            await gate.wait()  # les tâches s'entrelacent ici
            await asyncio.sleep(0)
            record_audit("fin", target_id=n)

    async def main() -> None:
        gate = asyncio.Event()
        tasks = [asyncio.create_task(handler(n, gate)) for n in range(5)]
        await asyncio.sleep(0.01)
        gate.set()
        await asyncio.gather(*tasks)
        assert current_audit_context() is None

    asyncio.run(main())
    entries = get_audit_log()
    assert len(entries) == 10
    assert {(e.actor, e.request_id, e.target_id) for e in entries} == {
        (f"task-{n}", f"r{n}", str(n)) for n in range(5)
    }
    # L'entrelacement a bien eu lieu : tous les « debut » avant tous les « fin ».
    assert [e.action for e in reversed(entries)] == ["debut"] * 5 + ["fin"] * 5
