# pyright: strict
"""Qui agit, depuis où, dans quelle requête : le contexte des écritures.

`audit_context(...)` pose acteur, identifiant de requête et IP pour tout ce
qui est enregistré dans le bloc, sans les passer d'appel en appel. Il repose
sur `contextvars` : chaque thread et chaque tâche asyncio a le sien, et les
blocs s'imbriquent (l'intérieur hérite de ce qu'il ne redéfinit pas).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final

from forge_mvc_audit._values import optional_text
from forge_mvc_audit.errors import AuditError

__all__ = [
    "IP_LENGTH",
    "REQUEST_ID_LENGTH",
    "AuditContext",
    "audit_context",
    "check_ip",
    "check_request_id",
    "current_audit_context",
    "new_request_id",
]

#: Longueur de la colonne `request_id`.
REQUEST_ID_LENGTH = 64
#: Longueur de la colonne `ip`.
IP_LENGTH = 45

# Ce qu'un identifiant de requête peut contenir : ceux des proxys et des
# traceurs courants (UUID, hexadécimal, base64), rien qui ressemble à du HTML.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,64}")


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Valeurs appliquées aux entrées écrites sans les préciser."""

    actor: str | None = None
    request_id: str | None = None
    ip: str | None = None


_current: ContextVar[AuditContext | None] = ContextVar("forge_mvc_audit_context", default=None)

#: Lecture du contexte courant, pour le chemin d'écriture (un seul appel).
get_current: Final = _current.get


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<hérité>"


_UNSET: Final = _Unset()


def new_request_id() -> str:
    """Un identifiant de requête neuf (uuid4, 32 caractères hexadécimaux)."""
    return uuid.uuid4().hex


def check_request_id(value: object) -> str | None:
    """None, ou un identifiant de 1 à 64 caractères parmi `A-Z a-z 0-9 . _ : + / = -`."""
    if value is None:
        return None
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise AuditError(
            f"request_id invalide : {value!r} (1 à {REQUEST_ID_LENGTH} caractères parmi "
            "lettres, chiffres et . _ : + / = -)."
        )
    return value


def check_ip(value: object) -> str | None:
    """None, ou une adresse IPv4/IPv6 valide, rendue sous sa forme normalisée."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            text = str(ipaddress.ip_address(value.strip()))
        except ValueError:
            pass
        else:
            # Une zone IPv6 (« fe80::1%eth0 ») peut dépasser la colonne.
            if len(text) <= IP_LENGTH:
                return text
    raise AuditError(f"ip invalide : {value!r} (une adresse IPv4 ou IPv6 est attendue).")


def current_audit_context() -> AuditContext | None:
    """Le contexte en vigueur, ou None hors de tout `audit_context`."""
    return _current.get()


@contextmanager
def audit_context(
    *,
    actor: str | _Unset | None = _UNSET,
    request_id: str | _Unset | None = _UNSET,
    ip: str | _Unset | None = _UNSET,
) -> Generator[AuditContext]:
    """Pose acteur, identifiant de requête et IP pour les écritures du bloc.

    Un argument omis est hérité du bloc englobant ; None l'efface. Sans bloc
    englobant, un `request_id` omis est généré : toutes les entrées d'un même
    job se retrouvent ainsi groupées. Les arguments explicites de
    `record_audit` gagnent toujours sur le contexte.

    ```python
    with audit_context(actor="cron:purge") as ctx:
        record_audit("notes.purgees", details={"n": 12})
        print(ctx.request_id)
    ```
    """
    outer = _current.get()
    base = outer if outer is not None else AuditContext()
    context = AuditContext(
        actor=base.actor if isinstance(actor, _Unset) else optional_text(actor, "actor"),
        request_id=(base.request_id if outer is not None else new_request_id())
        if isinstance(request_id, _Unset)
        else check_request_id(request_id),
        ip=base.ip if isinstance(ip, _Unset) else check_ip(ip),
    )
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)
