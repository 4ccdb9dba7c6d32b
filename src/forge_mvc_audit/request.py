# pyright: strict
"""Le contexte d'une requête HTTP Forge : qui, depuis quelle IP, quelle requête.

- Acteur : l'utilisateur authentifié de la session Forge, en texte ; None pour
  un visiteur anonyme ou une session illisible. Lire la session ne fait
  jamais échouer l'action auditée.
- IP : le pair de la socket. Un en-tête transmis (`X-Forwarded-For`) n'est cru
  que si ce pair est un proxy de confiance déclaré à Forge
  (`APP_TRUSTED_PROXIES`, réglage `trusted_proxies`) ; on garde alors la
  dernière adresse, en partant de la droite, qui n'est pas un proxy de confiance.
- Identifiant de requête : l'en-tête `X-Request-ID` s'il vient d'un proxy de
  confiance et qu'il est valide, sinon un uuid4 généré une fois par requête.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any, cast
from weakref import WeakKeyDictionary

from core.database.transaction import Transaction

from forge_mvc_audit._values import check_text
from forge_mvc_audit.context import (
    AuditContext,
    audit_context,
    check_ip,
    check_request_id,
    new_request_id,
)
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.store import record_audit

__all__ = [
    "FORWARDED_FOR_HEADER",
    "REQUEST_ID_HEADER",
    "client_ip",
    "record_request_audit",
    "request_actor",
    "request_audit_context",
]

logger = logging.getLogger("forge_mvc_audit")

#: En-tête d'identifiant de requête posé par un proxy (cru seulement s'il est de confiance).
REQUEST_ID_HEADER = "X-Request-ID"
#: En-tête de chaîne de proxys (cru seulement derrière un proxy de confiance).
FORWARDED_FOR_HEADER = "X-Forwarded-For"

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_CACHE_ATTR = "_forge_mvc_audit_request"
# Pour les objets requête qui refusent un attribut de plus (__slots__).
_fallback: WeakKeyDictionary[Any, tuple[str, str | None]] = WeakKeyDictionary()
# (réglage Forge tel que lu, réseaux analysés) : réanalysé seulement s'il change.
_trusted_cache: tuple[object, tuple[_Network, ...]] = (None, ())


def request_actor(request: Any) -> str | None:
    """L'utilisateur authentifié de la session, en texte, ou None. Ne lève jamais."""
    try:
        from core.auth.session import get_authenticated_user_id

        user_id = get_authenticated_user_id(request)
        if user_id is None:
            return None
        return check_text(str(user_id), "actor")
    except Exception:
        # Une session illisible ne doit pas faire échouer l'action auditée :
        # elle est enregistrée sans acteur.
        logger.debug("Session illisible : entrée d'audit sans acteur.", exc_info=True)
        return None


def _trusted_networks() -> tuple[_Network, ...]:
    global _trusted_cache
    try:
        from core.forge import get as forge_setting

        setting: object = forge_setting("trusted_proxies")  # pyright: ignore[reportUnknownVariableType]
    except Exception:
        return ()
    cached = _trusted_cache
    if cached[0] is setting or cached[0] == setting:
        return cached[1]
    networks: list[_Network] = []
    entries: list[Any] = (
        list(setting)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(setting, (set, frozenset, list, tuple))
        else []
    )
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            logger.debug("Proxy de confiance illisible ignoré : %r", entry)
    parsed = tuple(networks)
    _trusted_cache = (cast(object, setting), parsed)
    return parsed


def _address(text: object) -> _Address | None:
    if not isinstance(text, str):
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _is_trusted(address: _Address, networks: tuple[_Network, ...]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def _peer(request: Any) -> _Address | None:
    """Le pair de la socket : REMOTE_ADDR de l'environnement WSGI s'il est là,
    sinon `request.ip`, que Forge tire de la socket."""
    environ = getattr(request, "environ", None)
    if isinstance(environ, dict):
        found = _address(environ.get("REMOTE_ADDR"))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        if found is not None:
            return found
    return _address(getattr(request, "ip", None))


def _header(request: Any, name: str) -> str | None:
    try:
        value = request.headers.get(name)
    except Exception:
        return None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _from_trusted_proxy(request: Any) -> tuple[_Address | None, tuple[_Network, ...] | None]:
    peer = _peer(request)
    networks = _trusted_networks()
    if peer is None or not networks or not _is_trusted(peer, networks):
        return peer, None
    return peer, networks


def client_ip(request: Any) -> str | None:
    """L'adresse du client, selon la règle de confiance du module (None si illisible)."""
    peer, networks = _from_trusted_proxy(request)
    if peer is None:
        return None
    if networks is None:
        return str(peer)
    chain = _header(request, FORWARDED_FOR_HEADER)
    if chain is None:
        return str(peer)
    found = peer
    for hop in reversed(chain.split(",")):
        address = _address(hop)
        if address is None:
            # Un maillon illisible : rien à sa gauche n'est vérifiable.
            break
        found = address
        if not _is_trusted(address, networks):
            break
    return str(found)


def _resolve(request: Any) -> tuple[str, str | None]:
    """(request_id, ip) de la requête, calculés une fois puis gardés sur elle."""
    cached: Any = getattr(request, _CACHE_ATTR, None)
    if cached is None:
        try:
            cached = _fallback.get(request)
        except TypeError:
            cached = None
    if cached is not None:
        return cached
    _peer_address, networks = _from_trusted_proxy(request)
    request_id: str | None = None
    if networks is not None:
        incoming = _header(request, REQUEST_ID_HEADER)
        try:
            request_id = check_request_id(incoming)
        except AuditError:
            logger.debug("X-Request-ID invalide ignoré : %r", incoming)
    try:
        ip = check_ip(client_ip(request))
    except AuditError:
        ip = None
    resolved = (request_id or new_request_id(), ip)
    try:
        setattr(request, _CACHE_ATTR, resolved)
    except (AttributeError, TypeError):
        try:
            _fallback[request] = resolved
        except TypeError:
            logger.debug("Requête sans attribut ni référence faible : identifiant non partagé.")
    return resolved


def record_request_audit(
    request: Any,
    action: str,
    *,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: Any = None,
    db: Any = None,
    tx: Transaction | None = None,
) -> int:
    """`record_audit` avec acteur, IP et identifiant de requête tirés de `request`.

    ```python
    def update(request):
        ...
        record_request_audit(request, "note.modifiee", target_type="note",
                             target_id=note_id, details=audit_changes(avant, apres))
    ```
    """
    request_id, ip = _resolve(request)
    return record_audit(
        action,
        actor=request_actor(request),
        target_type=target_type,
        target_id=target_id,
        details=details,
        request_id=request_id,
        ip=ip,
        db=db,
        tx=tx,
    )


@contextmanager
def request_audit_context(request: Any) -> Generator[AuditContext]:
    """`audit_context` rempli depuis `request`, pour tout ce qui s'écrit dans le bloc
    (y compris les refus d'accès relayés par `audit_permission_denials`)."""
    request_id, ip = _resolve(request)
    with audit_context(actor=request_actor(request), request_id=request_id, ip=ip) as context:
        yield context
