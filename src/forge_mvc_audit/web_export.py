# pyright: strict
"""Téléchargement de la sélection de la page du journal, en CSV ou JSONL.

Toute la sélection est écrite dans un fichier temporaire anonyme : la mémoire
reste constante, et la réponse annonce sa vraie longueur (l'adaptateur WSGI de
Forge exige un `Content-Length` pour un corps en flux).
Le fichier part ensuite par tranches, puis disparaît.

L'écriture elle-même est celle de `forge audit:export` (`write_audit_export`) :
mêmes colonnes, même neutralisation des formules.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from core.http.response import Response

from forge_mvc_audit.export import write_audit_export
from forge_mvc_audit.web_query import ReadFilters

__all__ = ["MIME_TYPES", "ExportFile", "build_export", "export_response"]

#: Format -> type MIME.
MIME_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
}
_CHUNK = 64 * 1024


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
        count = write_audit_export(text, format=fmt, db=db, **filters)
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
        content_type=MIME_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="journal-audit-{stamp}.{fmt}"',
        },
    )
    response.stream = export.chunks()
    response.content_length = export.size
    return response
