# pyright: strict
"""Mise en forme des entrées pour la page du journal : dates lisibles, détails structurés.

Rien ici ne produit de HTML : le gabarit reçoit du texte, que Jinja échappe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from forge_mvc_audit.entry import AuditEntry
from forge_mvc_audit.query import TIMESTAMP_FORMAT

__all__ = ["EntryView", "entry_view", "french_datetime", "journal_url"]

_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


def french_datetime(created_at: str, zone: ZoneInfo | None = None) -> str:
    """« 3 déc. 2026 à 16:05 (UTC) » ; dans `zone` si elle est donnée."""
    try:
        moment = datetime.strptime(created_at, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return created_at
    label = "UTC"
    if zone is not None:
        moment = moment.astimezone(zone)
        label = zone.key
    month = _MONTHS[moment.month - 1]
    return f"{moment.day} {month} {moment.year} à {moment:%H:%M} ({label})"


def journal_url(base: str, params: Mapping[str, object]) -> str:
    """`base` suivi des paramètres non vides, encodés."""
    kept = [(k, str(v)) for k, v in params.items() if v is not None and str(v) != ""]
    return f"{base}?{urlencode(kept)}" if kept else base


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "—"
    return json.dumps(value, ensure_ascii=False)


def _is_change(value: Any) -> bool:
    return isinstance(value, list) and len(cast("list[Any]", value)) == 2


@dataclass(frozen=True, slots=True)
class EntryView:
    """Une entrée prête à afficher ; `details_kind` : text, pairs ou changes."""

    entry: AuditEntry
    iso: str
    local: str
    details_kind: str
    details_text: str
    details_rows: tuple[tuple[str, str, str], ...]
    actor_url: str
    action_url: str
    target_url: str
    request_url: str


def _details(entry: AuditEntry) -> tuple[str, str, tuple[tuple[str, str, str], ...]]:
    data = entry.details_data
    if not isinstance(data, dict) or not data:
        return "text", entry.details or "", ()
    mapping = cast("dict[str, Any]", data)
    # Sortie de `audit_changes` : {champ: [ancien, nouveau]}.
    if all(_is_change(v) for v in mapping.values()):
        rows = tuple((str(k), _text(v[0]), _text(v[1])) for k, v in mapping.items())
        return "changes", "", rows
    return "pairs", "", tuple((str(k), _text(v), "") for k, v in mapping.items())


def entry_view(entry: AuditEntry, base: str, zone: ZoneInfo | None) -> EntryView:
    """Vue d'une entrée ; les liens filtrent la page `base` sur l'acteur, l'action, etc."""
    kind, text, rows = _details(entry)
    iso = entry.created_at.replace(" ", "T") + "Z"
    target = {"target_type": entry.target_type, "target_id": entry.target_id}
    return EntryView(
        entry=entry,
        iso=iso,
        local=french_datetime(entry.created_at, zone),
        details_kind=kind,
        details_text=text,
        details_rows=rows,
        actor_url=journal_url(base, {"actor": entry.actor}) if entry.actor else "",
        action_url=journal_url(base, {"action": entry.action}),
        target_url=journal_url(base, target) if entry.target_type or entry.target_id else "",
        request_url=journal_url(base, {"request_id": entry.request_id}) if entry.request_id else "",
    )
