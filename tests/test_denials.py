"""Pont RBAC : chaque refus d'accès de forge-mvc-rbac devient une entrée."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from core.app.application import Application
from core.app.wsgi import create_wsgi_app
from core.http.response import Response
from core.http.router import Router
from forge_mvc_rbac.denials import DenialEvent, denial_observers, notify_permission_denied
from forge_mvc_rbac.rbac import require_permission
from forge_mvc_testing import ForgeTestClient, login_as
from forge_mvc_testing.fake_request import FakeRequest

from conftest import ROOT, Backend
from forge_mvc_audit import (
    DENIAL_ACTION,
    DENIAL_TARGET_TYPE,
    AuditError,
    audit_permission_denials,
    denial_details,
    get_audit_log,
    permission_denials_audited,
    request_audit_context,
    reset_denial_bridge,
)
from forge_mvc_audit.denials import _on_denial  # pyright: ignore[reportPrivateUsage]

pytestmark = pytest.mark.filterwarnings(
    "ignore:core.security.session.get_user:DeprecationWarning"  # émis par forge-mvc-rbac
)


@pytest.fixture
def bridge(audit_db: Backend) -> Iterator[Backend]:
    reset_denial_bridge()
    yield audit_db
    reset_denial_bridge()


def _client() -> ForgeTestClient:
    @require_permission("notes.edit")
    def edit(request: Any) -> Response:
        return Response(200, body=b"modifie", content_type="text/plain")

    router = Router()
    router.add("GET", "/notes/edit", edit, public=True)
    app = Application(router, middlewares=[], api_routes_module=None)
    return ForgeTestClient(create_wsgi_app(app, emit_prod_warnings=False))


@pytest.mark.usefixtures("bridge")
def test_denials_through_a_real_forge_app_are_recorded_once() -> None:
    assert not permission_denials_audited()
    audit_permission_denials()
    audit_permission_denials()  # le second appel ne double rien
    assert permission_denials_audited()
    assert denial_observers().count(_on_denial) == 1
    client = _client()
    assert client.get("/notes/edit").status == 403
    login_as(client, 42)
    assert client.get("/notes/edit").status == 403
    logged, anonymous = get_audit_log()
    assert (anonymous.action, anonymous.actor, anonymous.target_type, anonymous.target_id) == (
        DENIAL_ACTION,
        None,
        DENIAL_TARGET_TYPE,
        "notes.edit",
    )
    assert anonymous.details_data == {
        "method": "GET",
        "path": "/notes/edit",
        "source": "request-permissions",
    }
    assert (logged.actor, logged.target_id) == ("42", "notes.edit")


@pytest.mark.usefixtures("bridge")
def test_custom_action_reset_and_rewire() -> None:
    audit_permission_denials(action="securite.refus")
    notify_permission_denied("admin.voir", request=FakeRequest("POST", "/admin"), source="t")
    reset_denial_bridge()
    assert not permission_denials_audited()
    notify_permission_denied("admin.voir", request=FakeRequest(), source="t")
    audit_permission_denials()
    notify_permission_denied("admin.voir", request=FakeRequest("GET", "/x"), source="t")
    assert denial_observers().count(_on_denial) == 1
    assert [(e.action, e.details_data) for e in get_audit_log()] == [
        (DENIAL_ACTION, {"method": "GET", "path": "/x", "source": "t"}),
        ("securite.refus", {"method": "POST", "path": "/admin", "source": "t"}),
    ]


@pytest.mark.usefixtures("bridge")
def test_denial_inside_a_request_context_carries_ip_and_request_id() -> None:
    audit_permission_denials()
    request = FakeRequest("DELETE", "/notes/3", ip="192.0.2.50")
    with request_audit_context(request) as ctx:
        notify_permission_denied("notes.delete", request=request, source="contract")
    [entry] = get_audit_log()
    assert (entry.ip, entry.request_id) == ("192.0.2.50", ctx.request_id)


class _BrokenDb:
    def insert(self, *_args: Any, **_kwargs: Any) -> int:
        raise ConnectionError("base d'audit indisponible")

    fetch_one = insert


@pytest.mark.usefixtures("bridge")
def test_failing_database_keeps_the_403_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    audit_permission_denials(db=_BrokenDb())
    with caplog.at_level(logging.WARNING, logger="forge_mvc_audit"):
        assert _client().get("/notes/edit").status == 403
    [record] = [r for r in caplog.records if r.name == "forge_mvc_audit"]
    assert "notes.edit" in record.getMessage() and record.exc_info is not None
    assert get_audit_log() == []


@pytest.mark.usefixtures("bridge")
def test_invalid_permission_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    audit_permission_denials()
    with caplog.at_level(logging.WARNING, logger="forge_mvc_audit"):
        _on_denial(DenialEvent(permission="p" * 300, actor="1"))
    assert any(r.name == "forge_mvc_audit" for r in caplog.records)
    assert get_audit_log() == []


@pytest.mark.fast
def test_denial_details_keeps_only_known_fields() -> None:
    event = DenialEvent(permission="x", actor="3", path="/a", method="PUT", source="")
    assert denial_details(event) == {"method": "PUT", "path": "/a"}


@pytest.mark.fast
def test_bad_action_is_refused_at_wiring() -> None:
    with pytest.raises(AuditError, match="non vide"):
        audit_permission_denials(action=" ")


@pytest.mark.fast
def test_without_forge_mvc_rbac_wiring_raises_audit_error() -> None:
    code = (
        "import sys\n"
        "sys.modules['forge_mvc_rbac'] = None  # importation impossible\n"
        "from forge_mvc_audit import AuditError, audit_permission_denials, "
        "permission_denials_audited\n"
        "try:\n    audit_permission_denials()\n"
        "except AuditError as e:\n    print('REFUS', e)\n"
        "print('ARME', permission_denials_audited())\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert "REFUS forge-mvc-rbac n'est pas installé" in out
    assert "forge-mvc-audit[rbac]" in out and "ARME False" in out
