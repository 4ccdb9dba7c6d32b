# pyright: strict
"""Téléchargement de la sélection de la page du journal, en CSV ou JSONL.

Toute la sélection est lue par lots, par curseur d'identifiant (jamais
d'OFFSET, jamais de plafond silencieux), et écrite dans un fichier temporaire
anonyme : la mémoire reste constante, et la réponse annonce sa vraie longueur
(l'adaptateur WSGI de Forge exige un `Content-Length` pour un corps en flux).
Le fichier part ensuite par tranches, puis disparaît.

Les colonnes et la neutralisation des formules suivent `forge audit:export`.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from core.http.response import Response

from forge_mvc_audit.entry import AuditEntry
from forge_mvc_audit.store import MAX_LIMIT, get_audit_log
from forge_mvc_audit.web_query import ReadFilters

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "ExportFile",
    "build_export",
    "export_response",
    "iter_entries",
    "neutralise",
]

#: Colonnes des fichiers, dans l'ordre.
EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "details",
    "request_id",
    "ip",
)

#: Format -> type MIME.
EXPORT_FORMATS: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}

# Un tableur lit comme une formule une cellule qui commence par l'un d'eux
# (tabulation et retour chariot compris : ils masquent le vrai premier caractère).
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 64 * 1024


def neutralise(value: str) -> str:
    """Préfixe d'une apostrophe une cellule qu'un tableur exécuterait (OWASP)."""
    return "'" + value if value.startswith(_FORMULA_LEADS) else value


def iter_entries(filters: ReadFilters, db: Any = None) -> Iterator[AuditEntry]:
    """Toutes les entrées qui répondent à `filters`, plus récentes d'abord, par lots."""
    before: int | None = None
    while True:
        batch = get_audit_log(limit=MAX_LIMIT, before_id=before, db=db, **filters)
        yield from batch
        if len(batch) < MAX_LIMIT:
            return
        before = batch[-1].id


def _values(entry: AuditEntry) -> list[Any]:
    return [getattr(entry, column) for column in EXPORT_COLUMNS]


@dataclass(slots=True)
class ExportFile:
    """Fichier d'export prêt à envoyer : contenu, taille et nombre d'entrées."""

    handle: IO[bytes]
    size: int
    count: int

    def chunks(self) -> Iterator[bytes]:
        """Le contenu par tranches ; le fichier est fermé (donc effacé) à la fin."""
        try:
            self.handle.seek(0)
            while chunk := self.handle.read(_CHUNK):
                yield chunk
        finally:
            self.handle.close()


def build_export(fmt: str, filters: ReadFilters, db: Any = None) -> ExportFile:
    """Écrit toute la sélection au format `fmt` (« csv » ou « jsonl »)."""
    # Pas de `with` : le fichier survit à la fonction, le temps de l'envoi
    # (`ExportFile.chunks` le ferme).
    handle = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        text = io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=True)
        count = 0
        if fmt == "csv":
            writer = csv.writer(text)
            writer.writerow(EXPORT_COLUMNS)
            for entry in iter_entries(filters, db):
                writer.writerow(["" if v is None else neutralise(str(v)) for v in _values(entry)])
                count += 1
        else:
            for entry in iter_entries(filters, db):
                record = dict(zip(EXPORT_COLUMNS, _values(entry), strict=True))
                text.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        text.flush()
        text.detach()
        size = handle.tell()
    except BaseException:
        handle.close()
        raise
    return ExportFile(handle, size, count)


def export_response(fmt: str, export: ExportFile) -> Response:
    """Réponse de téléchargement qui envoie `export` en flux."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    response = Response(
        200,
        content_type=EXPORT_FORMATS[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="journal-audit-{stamp}.{fmt}"',
        },
    )
    response.stream = export.chunks()
    response.content_length = export.size
    return response
