"""La page du journal par le vrai chemin WSGI : routeur, sessions, middlewares.

Mêmes tests sur SQLite, PostgreSQL et MariaDB (fixture `audit_db`).
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from core.database import db
from forge_mvc_testing import ClientResponse, ForgeTestClient, login_as
from markupsafe import escape

from conftest import Backend
from forge_mvc_audit import (
    AUDIT_EXPORT_COLUMNS,
    AuditError,
    count_audit,
    get_audit_log,
    record_audit,
)
from forge_mvc_audit import web as web_module
from web_app import SKELETON, build_app, create_users, make_views

PREFIX = "/admin/audit"
ADMIN, TEACHER = 1, 2


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_views(tmp_path_factory.mktemp("journal"))


@pytest.fixture
def journal(audit_db: Backend) -> Iterator[Backend]:
    create_users()
    yield audit_db


@pytest.fixture
def client(journal: Backend, views: Path) -> ForgeTestClient:
    return ForgeTestClient(build_app(views, page_size=3))


def _admin(client: ForgeTestClient) -> ForgeTestClient:
    login_as(client, ADMIN)
    return client


def _rows(page: ClientResponse) -> list[int]:
    """Identifiants des entrées affichées, dans l'ordre de la page."""
    found = re.findall(r'<tr class="border-t border-line" id="entree-(\d+)"', page.text)
    return [int(n) for n in found]


def _field_error(page: ClientResponse, name: str) -> str | None:
    found = re.search(rf'<p id="audit-{name}-error"[^>]*>(.*?)</p>', page.text, re.S)
    return None if found is None else html.unescape(found.group(1))


def _insert(rows: list[tuple[Any, ...]]) -> None:
    """Insère des lignes brutes (actor, action, target_type, target_id, details,
    created_at, request_id), en une transaction."""
    from core.database.transaction import transaction

    with transaction() as tx:
        for row in rows:
            db.execute(
                "INSERT INTO audit_log (actor, action, target_type, target_id, details, "
                "created_at, request_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
                tx=tx,
            )


def _audit_of(action: str) -> list[Any]:
    return [e for e in get_audit_log(limit=1000) if e.action == action]


# -- Enregistrement ---------------------------------------------------------


@pytest.mark.fast
@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"guard": None}, "exige guard="),
        ({"guard": True}, "guard doit être"),
        ({"guard": lambda r: True, "prefix": "admin"}, "prefix"),
        ({"guard": lambda r: True, "prefix": "/"}, "racine"),
        ({"guard": lambda r: True, "prefix": "/a/{id}"}, "prefix"),
        ({"guard": lambda r: True, "timezone": "Mars/Olympus"}, "Fuseau horaire inconnu"),
        ({"guard": lambda r: True, "page_size": 0}, "page_size"),
        ({"guard": "sanspoint"}, "permission invalide"),
    ],
)
def test_registration_refuses_bad_configuration(options: dict[str, Any], fragment: str) -> None:
    from core.http.router import Router

    router = Router()
    with pytest.raises(AuditError, match=re.escape(fragment)):
        web_module.register_audit_routes(router, **options)
    assert router.iter_routes() == []


@pytest.mark.fast
def test_permission_guard_needs_rbac(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.http.router import Router

    monkeypatch.setitem(sys.modules, "forge_mvc_rbac", None)
    with pytest.raises(AuditError, match="forge-mvc-rbac n'est pas installé"):
        web_module.register_audit_routes(Router(), guard="audit.read")


@pytest.mark.fast
def test_routes_are_get_only_and_named() -> None:
    from core.http.router import Router

    router = Router()
    web_module.register_audit_routes(router, guard=lambda r: True, prefix="/gestion/journal/")
    routes = {(r.method, r.pattern, r.name) for r in router.iter_routes()}
    assert routes == {
        ("GET", "/gestion/journal", "audit-index"),
        ("GET", "/gestion/journal/journal.css", "audit-stylesheet"),
        ("GET", "/gestion/journal/export.csv", "audit-export-csv"),
        ("GET", "/gestion/journal/export.jsonl", "audit-export-jsonl"),
    }
    assert all(not r.public for r in router.iter_routes())
    with pytest.raises(AuditError, match="déjà enregistrées"):
        web_module.register_audit_routes(router, guard=lambda r: True, prefix="/autre")


@pytest.mark.fast
def test_template_uses_only_classes_of_the_skeleton_stylesheet() -> None:
    """Pas d'étape de build : chaque classe doit exister dans le CSS livré par le squelette."""
    css = (SKELETON / "static" / "tailwind.css").read_text(encoding="utf-8")
    known = {m.replace("\\", "") for m in re.findall(r"\.((?:\\.|[\w-])+)", css)}
    template = Path(web_module.__file__).parent / "templates" / "audit" / "journal.html"
    text = template.read_text(encoding="utf-8")
    used: set[str] = set()
    for attr in re.findall(r'class="([^"{]*)"', text) + re.findall(r'set \w+ = "([^"]*)"', text):
        used.update(attr.split())
    used.update(re.findall(r"'([\w-]+)' if error else '([\w-]+)'", text)[0])
    ours = {c for c in used if c.startswith("audit-")}
    assert used - ours, "aucune classe trouvée : l'analyse du gabarit est fausse"
    assert sorted(used - ours - known) == []


# -- Accès ------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client: ForgeTestClient, views: Path) -> None:
    for path in (PREFIX, f"{PREFIX}/export.csv"):
        response = client.get(path)
        assert (response.status, response.location) == (302, "/login")
    # Sans AuthMiddleware, la page renvoie elle-même vers la connexion.
    bare = ForgeTestClient(build_app(views, middlewares=[], login_url="/connexion"))
    response = bare.get(PREFIX)
    assert (response.status, response.location) == (302, "/connexion")
    assert count_audit() == 0


def test_refused_user_gets_forge_403_and_is_journaled(client: ForgeTestClient) -> None:
    record_audit("note.modifiee", actor="prof.dupont")
    login_as(client, TEACHER)
    response = client.get(PREFIX, query={"actor": "prof.dupont", "since": "2026-01-01"})
    assert response.status == 403
    assert "Accès interdit" in response.text  # la page errors/403.html du projet
    assert "prof.dupont" not in response.text
    [refusal] = _audit_of("audit.acces_refuse")
    assert refusal.actor == str(TEACHER)
    assert json.loads(refusal.details or "") == {
        "chemin": PREFIX,
        "filtres": {"actor": "prof.dupont", "since": "2026-01-01"},
    }
    assert client.get(f"{PREFIX}/export.csv").status == 403
    assert len(_audit_of("audit.acces_refuse")) == 2
    assert _audit_of("audit.export") == []


def test_guard_that_raises_refuses(journal: Backend, views: Path) -> None:
    def broken(request: Any) -> bool:
        raise RuntimeError("annuaire injoignable")

    client = _admin(ForgeTestClient(build_app(views, guard=broken)))
    assert client.get(PREFIX).status == 403


def test_allowed_user_sees_entries_newest_first_with_total(client: ForgeTestClient) -> None:
    ids = [record_audit(f"action.{i}", actor="prof.dupont") for i in range(5)]
    response = _admin(client).get(PREFIX)
    assert response.status == 200
    assert response.header("Cache-Control") == "no-store"
    assert _rows(response) == ids[::-1][:3]
    assert re.search(r"<strong[^>]*>5</strong>\s*entrées au total", response.text)
    assert '<th scope="col"' in response.text
    for name in ("actor", "action", "target_type", "target_id", "request_id", "since", "until"):
        assert f'<label for="audit-{name}"' in response.text
        assert f'id="audit-{name}" name="{name}"' in response.text
    # Compatible avec la CSP de Forge : ni script ni style en ligne.
    assert "<script" not in response.text and " style=" not in response.text
    assert "script-src 'self'" in (response.header("Content-Security-Policy") or "")


def test_rbac_permission_guard_reads_the_contract(
    journal: Backend, views: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = tmp_path / "mvc" / "security" / "rbac.json"
    contract.parent.mkdir(parents=True)
    contract.write_text(
        json.dumps({"schema_version": "1.0", "roles": {"direction": ["audit.read"], "prof": []}}),
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    app = build_app(views, guard="audit.read")
    director = ForgeTestClient(app)
    login_as(director, ADMIN, roles=["direction"])
    teacher = ForgeTestClient(app)
    login_as(teacher, TEACHER, roles=["prof"])
    assert director.get(PREFIX).status == 200
    assert teacher.get(PREFIX).status == 403


# -- Filtres ----------------------------------------------------------------


def _seed_filters() -> None:
    _insert(
        [
            ("prof.dupont", "note.modifiee", "note", "7", None, "2026-03-01 08:00:00", "req-a"),
            ("prof.martin", "note.modifiee", "note", "8", None, "2026-03-02 09:00:00", "req-b"),
            ("prof.dupont", "eleve.cree", "eleve", "7", None, "2026-03-03 10:00:00", "req-b"),
            ("secretariat", "absence.saisie", "eleve", "9", None, "2026-04-10 23:59:59", None),
        ]
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "prof.dupont"}, [3, 1]),
        ({"action": "note.modifiee"}, [2, 1]),
        ({"target_type": "eleve"}, [4, 3]),
        ({"target_id": "7"}, [3, 1]),
        ({"target_type": "note", "target_id": "7"}, [1]),
        ({"request_id": "req-b"}, [3, 2]),
        ({"since": "2026-03-02"}, [4, 3, 2]),
        ({"until": "2026-03-02"}, [2, 1]),
        ({"since": "2026-03-02 09:00:01", "until": "2026-04-10"}, [4, 3]),
        ({"actor": "personne"}, []),
        ({"actor": "' OR 1=1 --"}, []),
    ],
)
def test_each_filter(client: ForgeTestClient, query: dict[str, str], expected: list[int]) -> None:
    _seed_filters()
    response = _admin(client).get(PREFIX, query=query)
    assert response.status == 200
    assert _rows(response) == expected
    assert count_audit(**query) == len(expected)  # type: ignore[arg-type]
    if expected:
        assert re.search(
            rf"<strong[^>]*>{len(expected)}</strong>\s*entrées? pour ces filtres", response.text
        )
    else:
        assert "Aucune entrée pour ces filtres." in response.text
    for name, value in query.items():
        assert f'name="{name}" type="text" value="{escape(value)}"' in response.text


@pytest.mark.parametrize(
    ("query", "field", "fragment"),
    [
        ({"since": "2026-13-45"}, "since", "since illisible"),
        ({"until": "hier"}, "until", "until illisible"),
        ({"since": "2026-1-5"}, "since", "formes acceptées"),
        ({"since": "2026-05-01", "until": "2026-04-01"}, "until", "Période inversée"),
        ({"actor": "x" * 192}, "actor", "actor est trop long"),
        ({"target_id": "a\x00b"}, "target_id", "caractère NUL"),
    ],
)
def test_bad_filters_show_french_message_next_to_the_field(
    client: ForgeTestClient, query: dict[str, str], field: str, fragment: str
) -> None:
    _seed_filters()
    response = _admin(client).get(PREFIX, query=query)
    assert response.status == 200
    message = _field_error(response, field)
    assert message is not None and fragment in message
    assert f'id="audit-{field}" name="{field}"' in response.text
    assert re.search(rf'id="audit-{field}"[^>]*aria-invalid="true"', response.text)
    assert _rows(response) == []
    assert "export.csv" not in response.text
    # Même règle, même message que l'API.
    with pytest.raises(AuditError) as raised:
        get_audit_log(**query)  # type: ignore[arg-type]
    assert str(raised.value) == message


def test_bad_cursor_is_reported(client: ForgeTestClient) -> None:
    response = _admin(client).get(PREFIX, query={"before": "abc"})
    assert response.status == 200
    assert "before doit être un identifiant entier positif" in html.unescape(response.text)


# -- Pagination -------------------------------------------------------------


def _older(page: ClientResponse) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next"', page.text)
    return None if found is None else html.unescape(found.group(1))


def _newer(page: ClientResponse) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="prev"', page.text)
    return None if found is None else html.unescape(found.group(1))


def test_pagination_both_ways_across_inserts(client: ForgeTestClient) -> None:
    for i in range(1, 11):
        record_audit(f"a{i}", actor="prof.dupont" if i % 2 else "autre")
    _admin(client)
    first = client.get(PREFIX)
    assert _rows(first) == [10, 9, 8]
    assert _newer(first) is None
    second = client.get(_older(first) or "")
    assert _rows(second) == [7, 6, 5]
    record_audit("a11")
    record_audit("a12")
    third = client.get(_older(second) or "")
    assert _rows(third) == [4, 3, 2]  # rien de sauté ni répété malgré les ajouts
    last = client.get(_older(third) or "")
    assert _rows(last) == [1]
    assert _older(last) is None
    back = client.get(_newer(last) or "")
    assert _rows(back) == [4, 3, 2]
    back = client.get(_newer(back) or "")
    assert _rows(back) == [7, 6, 5]
    back = client.get(_newer(back) or "")
    assert _rows(back) == [10, 9, 8]
    top = client.get(_newer(back) or "")
    assert _rows(top) == [12, 11, 10]  # la tête du journal, pas une page tronquée
    assert _newer(top) is None


def test_actor_and_period_pages_both_ways(client: ForgeTestClient) -> None:
    """Acteur + période (lecture bornée sur SQLite) : pages complètes dans les deux sens,
    même quand les dates ne suivent pas l'ordre des id."""
    _insert(
        [
            ("prof.dupont" if i % 2 else "autre", f"a{i}", None, None, None, stamp, None)
            for i in range(1, 31)
            for stamp in [f"2026-03-{(i * 7) % 28 + 1:02d} 10:00:00"]
        ]
    )
    expected = [i for i in range(30, 0, -1) if i % 2 and 5 <= (i * 7) % 28 + 1 <= 20]
    query = {"actor": "prof.dupont", "since": "2026-03-05", "until": "2026-03-20"}
    page = _admin(client).get(PREFIX, query=query)
    assert re.search(rf"<strong[^>]*>{len(expected)}</strong>\s*entrées", page.text)
    pages = [_rows(page)]
    while link := _older(page):
        page = client.get(link)
        pages.append(_rows(page))
    assert [row for rows in pages for row in rows] == expected
    assert all(len(rows) == 3 for rows in pages[:-1])
    while link := _newer(page):
        page = client.get(link)
        assert _rows(page) == pages[-2]
        pages.pop()
    assert _rows(page) == expected[:3]


def test_pagination_keeps_filters(client: ForgeTestClient) -> None:
    for i in range(1, 11):
        record_audit(f"a{i}", actor="prof.dupont" if i % 2 else "autre")
    first = _admin(client).get(PREFIX, query={"actor": "prof.dupont"})
    assert _rows(first) == [9, 7, 5]
    older = _older(first) or ""
    assert "actor=prof.dupont" in older and "before=5" in older
    second = client.get(older)
    assert _rows(second) == [3, 1]
    assert _rows(client.get(_newer(second) or "")) == [9, 7, 5]


# -- Téléchargements --------------------------------------------------------

_PAYLOADS = ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok"]


def test_csv_download_is_complete_and_neutralised(client: ForgeTestClient) -> None:
    rows = [
        (f"acteur{i}", "import.ligne", "ligne", str(i), None, "2026-02-01 00:00:00", None)
        for i in range(2_400)
    ]
    rows += [(p, "piege", None, None, p, "2026-02-02 00:00:00", None) for p in _PAYLOADS]
    _insert(rows)
    response = _admin(client).get(f"{PREFIX}/export.csv")
    assert response.status == 200
    assert response.header("Content-Type") == "text/csv; charset=utf-8"
    assert "attachment;" in (response.header("Content-Disposition") or "")
    assert int(response.header("Content-Length") or -1) == len(response.body)
    table = list(csv.reader(io.StringIO(response.body.decode("utf-8"), newline="")))
    assert tuple(table[0]) == AUDIT_EXPORT_COLUMNS
    body = table[1:]
    assert len(body) == len(rows) == count_audit() - 1  # moins l'inscription de l'export
    assert [int(r[0]) for r in body] == list(range(len(rows), 0, -1))
    traps = {r[2]: r[6] for r in body if r[3] == "piege"}
    for payload in _PAYLOADS:
        shown = payload if payload == "ok" else "'" + payload
        assert traps[shown] == shown
    [export] = _audit_of("audit.export")
    assert export.actor == str(ADMIN)
    assert json.loads(export.details or "") == {
        "format": "csv",
        "filtres": {},
        "entrees": len(rows),
    }


def test_jsonl_download_with_filters_ignores_cursor(client: ForgeTestClient) -> None:
    _seed_filters()
    response = _admin(client).get(
        f"{PREFIX}/export.jsonl", query={"actor": "prof.dupont", "before": "2"}
    )
    assert response.status == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["id"], r["actor"], r["target_id"]) for r in lines] == [
        (3, "prof.dupont", "7"),
        (1, "prof.dupont", "7"),
    ]
    assert lines[0]["request_id"] == "req-b" and lines[0]["details"] == ""
    [export] = _audit_of("audit.export")
    assert json.loads(export.details or "")["filtres"] == {"actor": "prof.dupont"}


def test_download_with_bad_filters_shows_the_form(client: ForgeTestClient) -> None:
    response = _admin(client).get(f"{PREFIX}/export.csv", query={"since": "demain"})
    assert response.status == 200
    assert (
        response.header(
            "Content-Type",
        )
        == "text/html; charset=utf-8"
    )
    assert "since illisible" in (_field_error(response, "since") or "")
    assert _audit_of("audit.export") == []


# -- Affichage et échappement -----------------------------------------------

_XSS = "<script>alert('x')</script>"


def test_every_value_is_escaped(client: ForgeTestClient) -> None:
    details = json.dumps({"<img src=x onerror=alert(1)>": "<b>gras</b>", "note": [12, 15]})
    _insert(
        [
            (
                _XSS,
                "<i>action</i>",
                "<u>type</u>",
                '"><svg onload=alert(1)>',
                "<b>brut</b>",
                "2026-03-01 08:00:00",
                "<s>req</s>",
            ),
            (_XSS, "x", None, None, details, "2026-03-01 08:00:01", None),
        ]
    )
    response = _admin(client).get(PREFIX, query={"actor": _XSS})
    assert response.status == 200
    text = response.text
    for raw in ("<script>alert", "<img src=x", "<svg onload", "<b>", "<i>action", "<u>type"):
        assert raw not in text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;b&gt;brut&lt;/b&gt;" in text
    # Le filtre renvoyé dans le champ reste une valeur d'attribut.
    assert 'value="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"' in text


def test_structured_details_changes_and_request_link(client: ForgeTestClient) -> None:
    changes = json.dumps({"note": [12, 15], "appreciation": ["Bien", "Très bien"]})
    pairs = json.dumps({"classe": "3e B", "eleves": 27, "options": {"latin": True}})
    _insert(
        [
            ("prof.dupont", "note.modifiee", "note", "7", changes, "2026-12-03 16:05:09", "r-1"),
            ("prof.dupont", "classe.creee", "classe", "3", pairs, "2026-12-03 16:06:00", None),
        ]
    )
    text = _admin(client).get(PREFIX).text
    assert re.search(
        r"<th scope=\"row\">note</th><td>12 <span aria-hidden=\"true\">→</span>"
        r"<span class=\"audit-sr\">devient</span> 15</td>",
        text,
    )
    assert 'Bien <span aria-hidden="true">→</span>' in text
    assert '<th scope="row">classe</th><td>3e B</td>' in text
    assert '<th scope="row">options</th><td>{&#34;latin&#34;: true}</td>' in text
    assert f'href="{PREFIX}?request_id=r-1"' in text
    assert '<time datetime="2026-12-03T16:05:09Z">3 déc. 2026 à 16:05 (UTC)</time>' in text
    assert f'href="{PREFIX}?target_type=note&amp;target_id=7"' in text


def test_local_time_in_configured_zone(journal: Backend, views: Path) -> None:
    _insert([("a", "b", None, None, None, "2026-07-14 10:30:00", None)])
    client = _admin(ForgeTestClient(build_app(views, timezone="Europe/Paris")))
    text = client.get(PREFIX).text
    assert "14 juil. 2026 à 12:30 (Europe/Paris)" in text
    assert "2026-07-14 10:30:00 UTC" in text


def test_stylesheet_is_served(client: ForgeTestClient) -> None:
    response = _admin(client).get(f"{PREFIX}/journal.css")
    assert response.status == 200
    assert response.header("Content-Type") == "text/css; charset=utf-8"
    assert b".audit-table" in response.body


def test_long_period_reads_the_primary_key_with_the_same_result(
    client: ForgeTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Le plan choisi pour une longue période seule ne change pas les entrées rendues."""
    from forge_mvc_audit import web_query

    _insert(
        [
            ("a", "x", None, None, None, f"2026-03-{day:02d} 12:00:00", None)
            for day in (5, 1, 9, 2, 7, 3, 8, 4, 6)  # dates dans le désordre des identifiants
        ]
    )
    query = {"since": "2026-03-02", "until": "2026-03-07"}
    expected = [e.id for e in get_audit_log(**query)]  # type: ignore[arg-type]
    assert expected == [9, 8, 6, 5, 4, 1]
    pages: list[list[int]] = []
    for limit in (10**9, 0):  # tri de l'index de date, puis lecture de la clé primaire
        monkeypatch.setattr(web_query, "_SORT_LIMIT", limit)
        first = _admin(client).get(PREFIX, query=query)
        second = client.get(_older(first) or "")
        back = client.get(_newer(second) or "")
        pages.append(_rows(first) + _rows(second) + _rows(back))
    assert pages[0] == pages[1] == [9, 8, 6, 5, 4, 1, 9, 8, 6]


def test_export_that_cannot_be_journaled_is_not_served(
    client: ForgeTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_audit("note.modifiee", actor="prof.dupont")

    def failing(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("disque plein")

    monkeypatch.setattr(web_module, "record_request_audit", failing)
    response = _admin(client).get(f"{PREFIX}/export.csv")
    assert response.status == 500
    assert "prof.dupont" not in response.text
    # Un refus reste un refus (403), même si son inscription échoue.
    login_as(client, TEACHER)
    assert client.get(PREFIX).status == 403
