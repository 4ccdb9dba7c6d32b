# pyright: strict
"""`forge audit:export` : toute la sélection, en CSV ou JSON Lines.

Le fichier remis à un tiers doit être complet ou absent : avec --output,
l'export s'écrit dans un fichier temporaire du même dossier, renommé à la
toute fin ; une interruption (Ctrl-C, SIGTERM, erreur) le supprime.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import TextIO

from core.database.backend import get_backend

from forge_mvc_audit._safe_text import terminal_lines, terminal_text
from forge_mvc_audit.cli._options import (
    ERROR,
    FILTER_HELP,
    INFO,
    OK,
    add_filter_options,
    filters_from,
    parser_for,
    run_command,
    wants_help,
)
from forge_mvc_audit.cli._progress import Progress, fmt
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.export import EXPORT_FORMATS, TextSink, write_audit_export
from forge_mvc_audit.query import build_filters

__all__ = ["main"]

# Plus gros que le lot de l'API : moins d'allers-retours, mémoire toujours
# bornée (1000 entrées, 64 Kio de détails au pire chacune).
_BATCH_SIZE = 1000

_USAGE = f"""\
Usage:
  forge audit:export [--format csv|jsonl] [--output FICHIER] [filtres]

Exporte toute la sélection du journal d'audit, la plus récente d'abord, sans
plafond, en mémoire constante.

Format :
  --format csv|jsonl    csv (défaut) : UTF-8, en-tête, guillemets RFC 4180 ;
                        une cellule qui commence par = + - @, une tabulation,
                        un retour chariot ou une apostrophe reçoit une
                        apostrophe en tête (injection de formules, OWASP).
                        jsonl : un objet JSON par ligne.
  --output FICHIER      Fichier à écrire (défaut, ou « - » : la sortie
                        standard). Écrit sous un nom temporaire du même
                        dossier puis renommé à la fin : un export interrompu
                        ne laisse aucun fichier. Créé lisible par vous seul
                        (0600) : le journal contient des données personnelles.

{FILTER_HELP}  --before-id ID        Entrées d'identifiant inférieur à ID.

  -h, --help            Affiche cette aide sans rien lire ni écrire.

Colonnes : id, created_at (UTC), actor, action, target_type, target_id,
details, request_id, ip. Le résumé final ([OK] N entrées exportées) part sur
la sortie d'erreur quand les données vont sur la sortie standard. Affichées
directement dans un terminal, les données ont leurs caractères de contrôle
échappés ; dans un fichier ou un tube, elles sont exactes.

Une valeur qui commence par un tiret s'écrit --actor=-valeur.

Exemples :
  forge audit:export --output audit-2026.csv --since 2026-01-01 --until 2026-12-31
  forge audit:export --format jsonl --actor prof.dupont > dupont.jsonl"""


class _Terminated(BaseException):
    """SIGTERM reçu : traité comme Ctrl-C, pour supprimer le fichier temporaire.

    BaseException, comme KeyboardInterrupt : les `except Exception` du pilote
    ou de Forge ne doivent ni l'avaler ni le requalifier en erreur de base.
    """


def _format(value: str) -> str:
    if value not in EXPORT_FORMATS:
        raise argparse.ArgumentTypeError(
            f"format inconnu {terminal_text(value)!r} ; formats possibles : "
            f"{', '.join(EXPORT_FORMATS)}"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = parser_for("audit:export")
    parser.add_argument("--format", type=_format, default="csv")
    parser.add_argument("--output")
    add_filter_options(parser)
    return parser


def _entries(count: int) -> str:
    return f"{count} entrée{'s' if count > 1 else ''} exportée{'s' if count > 1 else ''}"


def _progress(stream: TextIO, clock: Callable[[], float] = time.monotonic) -> Progress:
    """Compteur et débit sur `stream`, au plus deux fois par seconde."""

    def render(count: int, elapsed: float) -> str:
        return f"{INFO} {fmt(count)} entrées… ({fmt(round(count / max(elapsed, 1e-9)))}/s)"

    return Progress(stream, render, clock=clock)


@contextmanager
def _sigterm_as_exception() -> Generator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise AuditError(f"--output désigne un dossier : {path}")
    if not path.parent.is_dir():
        raise AuditError(f"--output : le dossier {path.parent} n'existe pas.")
    if get_backend().name == "sqlite":
        database = os.environ.get("DB_NAME", "")
        if database and database != ":memory:" and Path(database).resolve() == path.resolve():
            raise AuditError(f"--output désigne la base SQLite elle-même ({path}) : refusé.")


def _write_atomically(path: Path, write: Callable[[TextSink], int]) -> int:
    """`write` dans un fichier temporaire voisin, renommé en `path` s'il réussit."""
    _check_target(path)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as error:
        raise AuditError(
            f"--output : impossible d'écrire dans {path.parent} ({error.strerror})."
        ) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            count = write(stream)
            stream.flush()
            # Sur disque avant le renommage : après une coupure, le fichier
            # final est complet ou n'existe pas.
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise
    return count


class _TerminalSink:
    """La sortie standard quand c'est un terminal : rien n'y part brut (ESC, C1, U+202E...).

    Dans un fichier ou un tube, les données restent exactes ; à l'écran, un
    caractère de contrôle enregistré dans le journal est montré échappé.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str, /) -> int:
        return self.stream.write(terminal_lines(text))


def _stdout() -> TextSink:
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        # Les fins de ligne CRLF du CSV passent telles quelles, en UTF-8 partout.
        stream.reconfigure(encoding="utf-8", newline="")
    if sys.stdout.isatty():
        return _TerminalSink(sys.stdout)
    return sys.stdout


def _export(args: list[str]) -> int:
    if wants_help(args):
        print(_USAGE)
        return 0
    options = _parser().parse_args(args)
    filters = filters_from(options)
    build_filters(**filters)  # période inversée : refusée avant de créer quoi que ce soit
    if options.output == "-":
        options.output = None
    # Les données à l'écran montrent déjà l'avancement : pas de compteur par-dessus.
    on_screen = options.output is None and sys.stdout.isatty()
    progress = _progress(sys.stderr) if sys.stderr.isatty() and not on_screen else None

    def write(stream: TextSink) -> int:
        try:
            return write_audit_export(
                stream, format=options.format, batch_size=_BATCH_SIZE, progress=progress, **filters
            )
        finally:
            if progress is not None:
                progress.clear()

    try:
        with _sigterm_as_exception():
            if options.output is None:
                count = write(_stdout())
                sys.stdout.flush()
                print(f"{OK} {_entries(count)} vers la sortie standard.", file=sys.stderr)
                return 0
            path = Path(options.output)
            count = _write_atomically(path, write)
    except (KeyboardInterrupt, _Terminated):
        where = "" if options.output is None else " ; aucun fichier écrit"
        print(f"{ERROR} Export interrompu{where}.", file=sys.stderr)
        return 130
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            raise
        raise AuditError(f"Écriture de l'export impossible : {error}") from None
    print(f"{OK} {_entries(count)} vers {terminal_text(str(path))}")
    return 0


def main(args: list[str]) -> int:
    """Point d'entrée de `forge audit:export`."""
    return run_command(lambda: _export(args))
