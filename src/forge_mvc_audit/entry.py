# pyright: strict
"""L'entrée du journal telle que la lecture la rend."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from forge_mvc_audit.query import sql_stamp

__all__ = ["ENTRY_COLUMNS", "AuditEntry", "entry_from_row", "format_timestamp"]

#: Colonnes lues, dans l'ordre des champs d'`AuditEntry`.
ENTRY_COLUMNS: tuple[str, ...] = (
    "id",
    "actor",
    "action",
    "target_type",
    "target_id",
    "details",
    "created_at",
    "request_id",
    "ip",
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Une ligne du journal. `created_at` est en UTC, au format `AAAA-MM-JJ HH:MM:SS`.

    Les sept premiers champs sont ceux de la version publiée : un code qui
    construit une entrée positionnellement avec eux continue de fonctionner.
    """

    id: int
    actor: str | None
    action: str
    target_type: str | None
    target_id: str | None
    details: str | None
    created_at: str
    request_id: str | None = None
    ip: str | None = None

    @property
    def details_data(self) -> Any:
        """`details` décodé s'il s'agit de JSON (dict ou liste), sinon None."""
        text: object = self.details
        if not isinstance(text, str) or not text or text[0] not in "{[":
            return None
        try:
            return json.loads(text)
        except ValueError:
            return None


def format_timestamp(value: object) -> str:
    """Forme unique d'un horodatage lu, quel que soit le pilote.

    PostgreSQL et MariaDB rendent un `datetime`, SQLite du texte : les quatre
    backends doivent lire la même chaîne.
    """
    if isinstance(value, datetime):
        return sql_stamp(value)
    text = str(value)
    # SQLite peut garder une fraction ou un « T » si la ligne vient d'ailleurs.
    return text[:19].replace("T", " ")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def entry_from_row(row: dict[str, Any]) -> AuditEntry:
    """Construit une entrée depuis une ligne-dict du pilote."""
    return AuditEntry(
        id=int(row["id"]),
        actor=_text(row["actor"]),
        action=str(row["action"]),
        target_type=_text(row["target_type"]),
        target_id=_text(row["target_id"]),
        details=_text(row["details"]),
        created_at=format_timestamp(row["created_at"]),
        request_id=_text(row.get("request_id")),
        ip=_text(row.get("ip")),
    )
