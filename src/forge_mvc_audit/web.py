# pyright: strict
"""La page du journal : une vue web en lecture seule, gardée, pour les administrateurs.

    from forge_mvc_audit import register_audit_routes

    register_audit_routes(router, guard="audit.read")            # permission RBAC
    register_audit_routes(router, guard=lambda request: ...)     # ou votre propre règle

Routes GET seulement, sous `prefix` : la page, ses deux téléchargements
(`export.csv`, `export.jsonl`) et sa feuille de style. Un visiteur anonyme est
renvoyé vers la connexion ; un utilisateur que la garde refuse reçoit la page
403 de Forge, et le refus est inscrit au journal (`audit.acces_refuse`), comme
chaque téléchargement (`audit.export`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.http.response import Response

from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.request import record_request_audit
from forge_mvc_audit.web_export import MIME_TYPES, build_export, export_response
from forge_mvc_audit.web_format import entry_view, journal_url
from forge_mvc_audit.web_query import (
    FILTER_FIELDS,
    JournalQuery,
    fetch_page,
    parse_query,
)

__all__ = [
    "ACCESS_DENIED_ACTION",
    "EXPORT_ACTION",
    "FIELD_LABELS",
    "register_audit_routes",
]

logger = logging.getLogger(__name__)

#: Action inscrite quand la garde refuse l'accès à la page ou à un export.
ACCESS_DENIED_ACTION = "audit.acces_refuse"
#: Action inscrite à chaque téléchargement.
EXPORT_ACTION = "audit.export"

#: Libellés des champs du formulaire.
FIELD_LABELS: dict[str, str] = {
    "actor": "Acteur",
    "action": "Action",
    "target_type": "Type de cible",
    "target_id": "Identifiant de cible",
    "request_id": "Requête",
    "since": "Depuis",
    "until": "Jusqu'au",
}

_TEMPLATE = "audit/journal.html"
_STYLESHEET = "journal.css"

Guard = Callable[[Any], bool]


def _permission_guard(permission: str) -> Guard:
    """Garde adossée à forge-mvc-rbac : le contrat `mvc/security/rbac.json` s'il
    existe, sinon les permissions de l'utilisateur en base."""
    try:
        from forge_mvc_rbac import (
            auth_user_can,
            get_request_roles,
            has_contract_permission,
            load_rbac_contract,
            normalize_permission_code,
            validate_permission,
        )
    except ImportError:
        raise AuditError(
            f"guard={permission!r} désigne une permission, mais forge-mvc-rbac n'est pas "
            "installé : pip install --pre 'forge-mvc-audit[rbac]', ou passez une fonction "
            "guard(request) -> bool."
        ) from None
    code = normalize_permission_code(permission)
    try:
        validate_permission(code)
    except ValueError as error:
        raise AuditError(f"guard : permission invalide ({error})") from None

    def allowed(request: Any) -> bool:
        contract = load_rbac_contract()
        if contract.exists:
            return has_contract_permission(contract, get_request_roles(request), code)
        return auth_user_can(request, code)

    return allowed


def _resolve_guard(guard: object) -> Guard:
    if guard is None:
        raise AuditError(
            "register_audit_routes exige guard= : le journal dit qui a fait quoi et ne doit "
            "jamais être ouvert par défaut. Passez une permission (« audit.read ») ou une "
            "fonction guard(request) -> bool."
        )
    if isinstance(guard, str):
        return _permission_guard(guard)
    if callable(guard):
        return cast(Guard, guard)
    raise AuditError(
        f"guard doit être une fonction guard(request) -> bool ou un nom de permission, "
        f"pas {type(guard).__name__}."
    )


def _check_prefix(prefix: object) -> str:
    if not isinstance(prefix, str) or not prefix.startswith("/") or "{" in prefix:
        raise AuditError(
            f"prefix doit être un chemin commençant par « / », sans paramètre (reçu : {prefix!r})."
        )
    cleaned = prefix.rstrip("/")
    if not cleaned:
        raise AuditError("prefix ne peut pas être la racine « / » du site.")
    return cleaned


def _zone(timezone: object) -> ZoneInfo | None:
    if timezone is None:
        return None
    if not isinstance(timezone, str):
        raise AuditError(
            f"timezone doit être un nom de fuseau IANA, pas {type(timezone).__name__}."
        )
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AuditError(
            f"Fuseau horaire inconnu : {timezone!r} (exemple : « Europe/Paris »)."
        ) from None


_loader_registered = False


def _register_templates() -> None:
    """Ajoute les gabarits du paquet derrière `mvc/views/` du projet (qui peut les surcharger)."""
    global _loader_registered
    if _loader_registered:
        return
    from core.mvc.controller.registry import register_jinja_template_loader
    from jinja2 import PackageLoader

    register_jinja_template_loader(PackageLoader("forge_mvc_audit", "templates"))
    _loader_registered = True


def _user_id(request: Any) -> int | None:
    # Imports de Forge différés ici et plus bas : `import forge_mvc_audit` reste
    # léger pour les commandes et les scripts qui n'ont pas de page.
    from core.auth.session import get_authenticated_user_id

    return get_authenticated_user_id(request)


def _record(action: str, request: Any, details: Mapping[str, object]) -> bool:
    """Inscrit un accès au journal lui-même ; rend False (et le signale) s'il a échoué."""
    try:
        # Acteur, IP et identifiant de requête : ceux de la requête, comme ailleurs.
        record_request_audit(request, action, details=dict(details))
    except Exception:
        logger.warning("Inscription de %s au journal impossible.", action, exc_info=True)
        return False
    return True


def _used_filters(request: Any) -> dict[str, str]:
    params: dict[str, list[str]] = getattr(request, "params", {}) or {}
    return {name: params[name][0] for name in FILTER_FIELDS if params.get(name)}


class _Journal:
    """Les gestionnaires de routes, liés à une configuration."""

    def __init__(
        self,
        guard: Guard,
        prefix: str,
        login_url: str,
        page_size: int,
        zone: ZoneInfo | None,
        layout: str,
    ) -> None:
        self.guard = guard
        self.prefix = prefix
        self.login_url = login_url
        self.page_size = page_size
        self.zone = zone
        self.layout = layout

    def guarded(self, handler: Callable[[Any], Response]) -> Callable[[Any], Response]:
        def route(request: Any) -> Response:
            if _user_id(request) is None:
                # Comme `AuthMiddleware`, si l'application ne l'a pas déjà fait.
                return Response(302, headers={"Location": self.login_url})
            try:
                allowed = bool(self.guard(request))
            except Exception:
                logger.exception("La garde du journal a levé : accès refusé.")
                allowed = False
            if not allowed:
                path = str(getattr(request, "path", ""))
                _record(
                    ACCESS_DENIED_ACTION,
                    request,
                    {"chemin": path, "filtres": _used_filters(request)},
                )
                from core.http.helpers import error_page

                return error_page("errors/403.html", 403)
            return handler(request)

        route.__name__ = handler.__name__
        route.__qualname__ = f"forge_mvc_audit.{handler.__name__}"
        return route

    def page(self, request: Any) -> Response:
        query = parse_query(request.params)
        return self._render(request, query)

    def _render(self, request: Any, query: JournalQuery) -> Response:
        base = self.prefix
        entries: list[Any] = []
        total: int | None = None
        newer_url = older_url = ""
        if query.valid:
            page = fetch_page(query, self.page_size)
            total = page.total
            entries = [entry_view(e, base, self.zone) for e in page.entries]
            if page.entries:
                if page.has_newer:
                    newer_url = journal_url(base, {**query.filters, "after": page.entries[0].id})
                if page.has_older:
                    older_url = journal_url(base, {**query.filters, "before": page.entries[-1].id})
        context: dict[str, Any] = {
            "audit_layout": self.layout,
            "base_url": base,
            "stylesheet_url": f"{base}/{_STYLESHEET}",
            "fields": [(name, FIELD_LABELS[name]) for name in FILTER_FIELDS],
            "values": query.values,
            "errors": query.errors,
            "cursor_errors": [query.errors[n] for n in ("before", "after") if n in query.errors],
            "entries": entries,
            "total": total,
            # Espace fine insécable entre milliers, comme en typographie française.
            "total_text": "" if total is None else f"{total:,}".replace(",", "\u202f"),
            "filtered": bool(query.filters),
            "newer_url": newer_url,
            "older_url": older_url,
            "export_urls": {
                fmt: journal_url(f"{base}/export.{fmt}", query.filters) for fmt in MIME_TYPES
            },
            "zone_label": "UTC" if self.zone is None else self.zone.key,
        }
        from core.mvc.controller.base_controller import BaseController

        return BaseController.render(_TEMPLATE, 200, context, request=request)

    def export(self, fmt: str) -> Callable[[Any], Response]:
        def download(request: Any) -> Response:
            query = parse_query(request.params)
            if not query.valid:
                return self._render(request, query)
            export = build_export(fmt, query.filters)
            details = {"format": fmt, "filtres": query.filters, "entrees": export.count}
            if not _record(EXPORT_ACTION, request, details):
                # Un export qui ne laisse pas de trace n'est pas servi.
                export.handle.close()
                from core.http.helpers import error_page

                return error_page("errors/500.html", 500)
            return export_response(fmt, export)

        download.__name__ = f"export_{fmt}"
        return download

    def stylesheet(self, request: Any) -> Response:
        del request
        css = resources.files("forge_mvc_audit").joinpath("templates", "audit", _STYLESHEET)
        return Response(
            200,
            css.read_bytes(),
            content_type="text/css; charset=utf-8",
            headers={"Cache-Control": "max-age=3600"},
        )


def register_audit_routes(
    router: Any,
    *,
    guard: Guard | str | None,
    prefix: str = "/admin/audit",
    login_url: str = "/login",
    page_size: int = 50,
    timezone: str | None = None,
    layout: str = "layouts/base.html",
) -> None:
    """Monte la page du journal (GET seulement) sur le routeur Forge `router`.

    `guard` est obligatoire : une fonction `guard(request) -> bool`, ou un nom de
    permission vérifié par forge-mvc-rbac. `timezone` (IANA, ex. « Europe/Paris »)
    choisit l'heure lisible affichée à côté de l'heure UTC ; `layout` est le
    gabarit que la page étend. Lève `AuditError` si la configuration est fausse.
    """
    checked_guard = _resolve_guard(guard)
    base = _check_prefix(prefix)
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)  # pyright: ignore[reportUnnecessaryIsInstance]
        or not 1 <= page_size <= 500
    ):
        raise AuditError(f"page_size doit être un entier entre 1 et 500 (reçu : {page_size!r}).")
    journal = _Journal(checked_guard, base, login_url, page_size, _zone(timezone), layout)
    _register_templates()
    routes: list[tuple[str, str, Callable[[Any], Response]]] = [
        ("", "audit-index", journal.page),
        (f"/{_STYLESHEET}", "audit-stylesheet", journal.stylesheet),
        *((f"/export.{fmt}", f"audit-export-{fmt}", journal.export(fmt)) for fmt in MIME_TYPES),
    ]
    try:
        for path, name, handler in routes:
            router.add("GET", base + path, journal.guarded(handler), name=name, no_store=True)
    except ValueError as error:
        raise AuditError(f"Routes du journal déjà enregistrées sur ce routeur ({error}).") from None
