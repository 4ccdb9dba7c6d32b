"""Une petite application Forge pour tester la page du journal de bout en bout.

Routeur, sessions, `AuthMiddleware` adossé à une vraie table d'utilisateurs,
vues du squelette Forge (layout, page 403) et une page de connexion : ce qu'un
projet `forge new` a, réduit au nécessaire.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import core.forge as forge
import skeleton
from core.app.application import Application
from core.app.wsgi import create_wsgi_app
from core.auth.password import hash_password
from core.auth.session import authenticate_user, get_authenticated_user_id
from core.database import db
from core.http.response import Response
from core.http.router import Router
from core.security.cookies import set_session_cookie
from core.security.middleware import AuthMiddleware
from core.sessions.keys import SESSION_KEY_AUTH_USER_ID
from core.sessions.manager import get_session_store
from core.templating.manager import template_manager
from integrations.jinja2.renderer import Jinja2Renderer

from forge_mvc_audit import register_audit_routes

SKELETON = Path(skeleton.__file__).resolve().parent / "data"
PASSWORD = "correct horse battery staple"

#: (id, login, administrateur ?)
USERS = ((1, "directrice", True), (2, "prof.martin", False))

_hash: str | None = None


def make_views(root: Path) -> Path:
    """Les vues du squelette Forge, comme dans un projet neuf."""
    views = root / "views"
    if not views.exists():
        shutil.copytree(SKELETON / "mvc" / "views", views)
    return views


def create_users() -> None:
    """La table des comptes, sur le backend actif (SQL portable, ids explicites)."""
    global _hash
    if _hash is None:
        _hash = hash_password(PASSWORD)
    db.execute(
        "CREATE TABLE IF NOT EXISTS web_users (id INTEGER PRIMARY KEY, "
        "login VARCHAR(100) NOT NULL, password_hash VARCHAR(255) NOT NULL, "
        "is_admin INTEGER NOT NULL)"
    )
    db.execute("DELETE FROM web_users")
    for user_id, login, admin in USERS:
        db.execute(
            "INSERT INTO web_users (id, login, password_hash, is_admin) VALUES (?, ?, ?, ?)",
            (user_id, login, _hash, int(admin)),
        )


def _user(where: str, value: object) -> dict[str, Any] | None:
    row = db.fetch_one(
        f"SELECT id, login, password_hash, is_admin FROM web_users WHERE {where} = ?", (value,)
    )
    return None if row is None else {**row, "id": int(row["id"])}


def is_admin(request: Any) -> bool:
    """La garde de l'application : le compte est-il administrateur ?"""
    user = _user("id", get_authenticated_user_id(request))
    return bool(user and int(user["is_admin"]))


_LOGIN_FORM = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>Connexion</title></head><body><form method="post" action="/login">
<label for="login">Identifiant</label><input id="login" name="login">
<label for="password">Mot de passe</label><input id="password" name="password" type="password">
<button type="submit">Se connecter</button></form></body></html>"""


def _login_form(request: Any) -> Response:
    del request
    return Response.html(_LOGIN_FORM)


def _login(request: Any) -> Response:
    user = authenticate_user(
        request.form("login", ""), request.form("password", ""), lambda login: _user("login", login)
    )
    if user is None:
        return Response.html(_LOGIN_FORM, status=401)
    store = get_session_store()
    session_id = store.authenticate(store.create(), {"id": user.id}, 3600)
    assert session_id is not None
    data = store.get(session_id) or {}
    data[SESSION_KEY_AUTH_USER_ID] = user.id
    store.set(session_id, data)
    response = Response(302, headers={"Location": "/admin/audit"})
    set_session_cookie(response, session_id)
    return response


def build_app(
    views: Path,
    *,
    guard: object = is_admin,
    middlewares: list[Any] | None = None,
    **options: Any,
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """Le callable WSGI de l'application, tel que Gunicorn le servirait."""
    router = Router()
    router.add("GET", "/login", _login_form, public=True, no_store=True)
    # Formulaire de test sans jeton : la page de connexion n'est pas le sujet.
    router.add("POST", "/login", _login, public=True, csrf=False, no_store=True)
    register_audit_routes(router, guard=guard, **options)  # type: ignore[arg-type]
    forge.configure(app_name="Collège Test", app_env="dev", views_dir=str(views), router=router)
    template_manager.register(Jinja2Renderer(str(views)))
    if middlewares is None:
        middlewares = [AuthMiddleware("/login", user_loader=lambda uid: _user("id", uid))]
    application = Application(router, middlewares=middlewares, api_routes_module=None)
    return create_wsgi_app(application, emit_prod_warnings=False)
