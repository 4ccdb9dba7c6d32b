"""La page du journal dans un vrai navigateur : Chromium de Debian piloté par Playwright.

L'application est servie sur 127.0.0.1 par un vrai serveur WSGI (wsgiref), dans
un fil du test. Aucun navigateur n'est téléchargé : Playwright lance
/usr/bin/chromium (paquet Debian `chromium`). Sans lui, ou sans Playwright, les
tests sautent en le disant, sauf avec AUDIT_REQUIRE_BROWSER=1 où ils échouent.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from conftest import ROOT, Backend
from forge_mvc_audit import count_audit, get_audit_log, record_audit
from web_app import PASSWORD, SKELETON, build_app, create_users, make_views

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PREFIX = "/admin/audit"


def _unavailable(reason: str) -> None:
    if os.environ.get("AUDIT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (AUDIT_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def _with_static(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Sert /static/ comme le serveur de développement de Forge (le squelette)."""
    static = SKELETON / "static"

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        if path.startswith("/static/"):
            target = (static / path.removeprefix("/static/")).resolve()
            if target.is_file() and static in target.parents:
                kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                start_response("200 OK", [("Content-Type", kind)])
                return [target.read_bytes()]
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b""]
        return app(environ, start_response)

    return serve


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable("Chromium absent : apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright absent : pip install playwright (sans « playwright install »)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(audit_db: Backend, tmp_path: Path) -> Iterator[str]:
    create_users()
    app = _with_static(build_app(make_views(tmp_path), page_size=5))
    httpd: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def _context(browser: Any, base: str, **options: Any) -> Any:
    context = browser.new_context(accept_downloads=True, **options)

    def local_only(route: Any) -> None:
        # Rien ne sort de la machine (polices du layout comprises).
        if route.request.url.startswith(base):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", local_only)
    return context


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}{PREFIX}")
    assert page.url == f"{base}/login"  # un visiteur anonyme est envoyé à la connexion
    page.fill("#login", "directrice")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{PREFIX}")


def _ids(page: Any) -> list[int]:
    return [
        int(str(row.get_attribute("id")).removeprefix("entree-"))
        for row in page.locator("table.audit-table > tbody > tr[id]").all()
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_journal_in_chromium_without_javascript(browser: Any, server: str) -> None:
    for i in range(1, 13):
        details = json.dumps({"note": [10, 10 + i]}) if i % 3 == 0 else f"=cmd|' /C calc'!A{i}"
        record_audit(
            "note.modifiee",
            actor="prof.dupont" if i % 2 else "prof.martin",
            target_type="note",
            target_id=i,
            details=details,
        )
    # La page doit marcher sans JavaScript : on le coupe.
    context = _context(
        browser, server, java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    _login(page, server)
    assert _ids(page) == [12, 11, 10, 9, 8]
    assert page.locator("h1").inner_text() == "Journal d'audit"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journal-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(ARTIFACTS / "journal-375.png"), full_page=True)
    # Lisible au téléphone : rien ne déborde horizontalement.
    box = page.locator("table.audit-table").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375
    page.set_viewport_size({"width": 1280, "height": 900})

    # Filtrer par le formulaire.
    page.fill("#audit-actor", "prof.dupont")
    page.click("button[type=submit]")
    page.wait_for_url("**actor=prof.dupont**")
    assert _ids(page) == [11, 9, 7, 5, 3]
    assert "6 entrées pour ces filtres" in page.locator("main").inner_text().replace("\u202f", "")

    # Page suivante, puis retour, malgré une entrée ajoutée entre-temps.
    page.click("a[rel=next]")
    page.wait_for_url("**before=3**")
    assert _ids(page) == [1]
    record_audit("note.modifiee", actor="prof.dupont", target_type="note", target_id=13)
    page.click("a[rel=prev]")
    page.wait_for_url("**after=1**")
    assert _ids(page) == [11, 9, 7, 5, 3]  # exactement la page quittée
    page.click("a[rel=prev]")
    page.wait_for_url("**after=11**")
    assert _ids(page) == [13, 11, 9, 7, 5]  # la tête du journal, avec l'entrée ajoutée

    # Une date illisible : message en français à côté du champ, pas d'erreur serveur.
    page.fill("#audit-since", "31/12/2026")
    page.click("button[type=submit]")
    page.wait_for_url("**since=31**")
    assert "since illisible" in page.locator("#audit-since-error").inner_text()
    assert page.locator("#audit-since").get_attribute("aria-invalid") == "true"
    page.fill("#audit-since", "")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "since=31" not in url)

    # Téléchargement CSV de la sélection courante.
    with page.expect_download() as info:
        page.click(f"a[href^='{PREFIX}/export.csv']")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    content = Path(download.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert [int(r["id"]) for r in rows] == [13, 11, 9, 7, 5, 3, 1]
    assert len(rows) == count_audit(actor="prof.dupont")
    assert all(r["details"].startswith("'=cmd") for r in rows if "cmd" in r["details"])
    assert any(e.action == "audit.export" for e in get_audit_log(limit=5))
    context.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_xss_payload_in_details_runs_nothing(browser: Any, server: str) -> None:
    record_audit(
        "profil.modifie",
        actor="<img src=x onerror=\"window.__xss='actor'\">",
        details=json.dumps(
            {
                "bio": "<script>window.__xss='details';alert('details')</script>",
                "<svg onload=alert(1)>": "<iframe src=javascript:alert(2)>",
            }
        ),
    )
    record_audit("brut", details="<script>alert('brut')</script><b id=injected>x</b>")
    # JavaScript actif et CSP contournée : seul l'échappement peut protéger ici.
    context = _context(browser, server, bypass_csp=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    _login(page, server)
    page.wait_for_load_state("load")
    assert dialogs == []
    assert page.evaluate("window.__xss === undefined")
    injected = "main script, main img[src=x], main svg, main iframe, #injected"
    assert page.locator(injected).count() == 0
    text = page.locator("table.audit-table").inner_text()
    assert "<script>window.__xss='details';alert('details')</script>" in text
    assert "<img src=x onerror=" in text
    context.close()
