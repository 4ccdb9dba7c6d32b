"""record_request_audit : acteur de la session, IP du pair, identifiant de requête."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import core.forge as forge
import pytest
from core.app.application import Application
from core.app.wsgi import create_wsgi_app
from core.http.response import Response
from core.http.router import Router
from forge_mvc_testing import ForgeTestClient, login_as
from forge_mvc_testing.fake_request import FakeRequest

from conftest import Backend
from forge_mvc_audit import (
    AuditError,
    audit_context,
    get_audit_log,
    record_audit,
    record_request_audit,
    request_audit_context,
)

pytestmark = pytest.mark.usefixtures("audit_db")

_HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def trusted_proxies() -> Iterator[Any]:
    """Déclare des proxys de confiance à Forge le temps d'un test."""
    previous = forge.get("trusted_proxies")

    def declare(*entries: str) -> None:
        forge.configure(trusted_proxies=frozenset(entries))

    yield declare
    forge.configure(trusted_proxies=previous)


def _client() -> ForgeTestClient:
    def handler(request: Any) -> Response:
        record_request_audit(
            request,
            "note.modifiee",
            target_type="note",
            target_id=7,
            details={"note": [12, 15], "password": "hunter2"},
        )
        record_request_audit(request, "note.relue", target_type="note", target_id=7)
        return Response(200, body=b"ok", content_type="text/plain")

    router = Router()
    router.add("GET", "/noter", handler, public=True)
    app = Application(router, middlewares=[], api_routes_module=None)
    return ForgeTestClient(create_wsgi_app(app, emit_prod_warnings=False))


def test_real_session_through_the_wsgi_stack() -> None:
    client = _client()
    login_as(client, 42, roles=["prof"])
    assert client.get("/noter").status == 200
    assert client.get("/noter").status == 200
    entries = get_audit_log()
    assert [(e.action, e.actor, e.ip) for e in entries] == [
        ("note.relue", "42", "127.0.0.1"),
        ("note.modifiee", "42", "127.0.0.1"),
    ] * 2
    first, second = (
        {entries[2].request_id, entries[3].request_id},
        {entries[0].request_id, entries[1].request_id},
    )
    assert len(first) == len(second) == 1  # une requête : un seul identifiant
    assert first != second  # deux requêtes : deux identifiants
    assert all(e.request_id and _HEX32.fullmatch(e.request_id) for e in entries)
    assert entries[3].details_data == {"note": [12, 15], "password": "[masqué]"}


def test_anonymous_visitor_through_the_wsgi_stack() -> None:
    assert _client().get("/noter").status == 200
    assert {(e.actor, e.ip) for e in get_audit_log()} == {(None, "127.0.0.1")}


def test_forwarded_headers_are_ignored_without_trusted_proxies() -> None:
    client = _client()
    headers = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Request-ID": "proxy-abc",
        "X-Real-IP": "203.0.113.9",
    }
    assert client.get("/noter", headers=headers).status == 200
    entries = get_audit_log()
    assert {e.ip for e in entries} == {"127.0.0.1"}
    assert all(e.request_id and _HEX32.fullmatch(e.request_id) for e in entries)


def test_trusted_proxy_headers_are_believed(trusted_proxies: Any) -> None:
    trusted_proxies("127.0.0.1", "10.0.0.0/8")
    headers = {
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.1.2.3",
        "X-Request-ID": "proxy-abc-123",
    }
    assert _client().get("/noter", headers=headers).status == 200
    entries = get_audit_log()
    # La dernière adresse non fiable en partant de la droite : 10.1.2.3 est un
    # proxy de confiance, 203.0.113.9 le client (198.51.100.1 est invérifiable).
    assert {(e.ip, e.request_id) for e in entries} == {("203.0.113.9", "proxy-abc-123")}


def test_invalid_request_id_from_a_trusted_proxy_is_replaced(trusted_proxies: Any) -> None:
    trusted_proxies("127.0.0.1")
    request = FakeRequest(
        "GET",
        "/",
        ip="127.0.0.1",
        headers={
            "X-Request-ID": "<script>alert(1)</script>",
            "X-Forwarded-For": "pas-une-ip, 192.0.2.4",
        },
    )
    record_request_audit(request, "a")
    [entry] = get_audit_log()
    assert entry.request_id and _HEX32.fullmatch(entry.request_id)
    assert entry.ip == "192.0.2.4"


def test_fake_request_with_a_real_session() -> None:
    from core.sessions.access import SESSION_COOKIE_NAME

    holder = _client()
    login_as(holder, 7)
    request = FakeRequest(
        "POST", "/notes", session_id=holder.cookies[SESSION_COOKIE_NAME], ip="2001:DB8::0001"
    )
    record_request_audit(request, "note.creee", target_type="note", target_id=1)
    record_request_audit(request, "note.modifiee", target_type="note", target_id=1)
    other = FakeRequest("GET", "/")
    record_request_audit(other, "page.vue")
    page, modified, created = get_audit_log()
    assert (created.actor, created.ip) == ("7", "2001:db8::1")
    assert created.request_id == modified.request_id
    assert page.request_id != created.request_id and page.actor is None


class _BrokenSession:
    """Une requête dont la lecture de session lève."""

    ip = "192.0.2.1"
    method = "GET"
    path = "/"

    @property
    def session(self) -> Any:
        raise RuntimeError("magasin de sessions indisponible")

    @property
    def headers(self) -> Any:
        raise RuntimeError("en-têtes illisibles")


def test_broken_session_never_fails_the_audited_action() -> None:
    request = _BrokenSession()
    record_request_audit(request, "action.faite")
    record_request_audit(request, "action.suivante")
    second, first = get_audit_log()
    assert (first.actor, first.ip, second.actor) == (None, "192.0.2.1", None)
    assert first.request_id == second.request_id


class _Slotted:
    """Un objet requête qui refuse tout attribut supplémentaire."""

    __slots__ = ("__weakref__", "headers", "ip")

    def __init__(self) -> None:
        self.ip = "bogus"
        self.headers = {}


def test_request_without_free_attributes_still_shares_its_id() -> None:
    request = _Slotted()
    record_request_audit(request, "a")
    record_request_audit(request, "b")
    b, a = get_audit_log()
    assert a.request_id == b.request_id and a.ip is None


def test_bad_action_is_still_refused() -> None:
    with pytest.raises(AuditError, match="action est obligatoire"):
        record_request_audit(FakeRequest(), "  ")
    assert get_audit_log() == []


def test_request_audit_context_covers_plain_record_audit(audit_db: Backend) -> None:
    holder = _client()
    login_as(holder, 5)
    from core.sessions.access import SESSION_COOKIE_NAME

    request = FakeRequest(session_id=holder.cookies[SESSION_COOKIE_NAME], ip="192.0.2.9")
    with request_audit_context(request) as ctx:
        record_audit("service.appele")
        with audit_context(actor="systeme"):
            record_audit("sous.tache")
    inner, outer = get_audit_log()
    assert (outer.actor, outer.ip, outer.request_id) == ("5", "192.0.2.9", ctx.request_id)
    assert (inner.actor, inner.request_id) == ("systeme", ctx.request_id)
    # Une écriture par record_request_audit sur la même requête partage l'identifiant.
    record_request_audit(request, "fin")
    assert get_audit_log(limit=1)[0].request_id == ctx.request_id


def test_unstorable_peer_address_is_dropped_not_fatal() -> None:
    record_request_audit(FakeRequest(ip="fe80::1%" + "z" * 40), "a")
    record_request_audit(FakeRequest(ip="pas une ip"), "b")
    assert [e.ip for e in get_audit_log()] == [None, None]
