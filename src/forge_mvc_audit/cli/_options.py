# pyright: strict
"""Ce que `audit:show` et `audit:export` partagent : filtres, erreurs, sortie.

Chaque mauvais argument devient une seule ligne `[ERREUR] ...` en français et
un code de sortie (2 : la ligne de commande ; 1 : la base ou le fichier),
jamais une trace d'exécution ni l'usage anglais d'argparse.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from forge_mvc_audit._safe_text import terminal_text
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.query import parse_bound

__all__ = [
    "ERROR",
    "INFO",
    "OK",
    "UsageError",
    "add_filter_options",
    "filters_from",
    "parser_for",
    "positive_int",
    "run_command",
    "wants_help",
]

OK = "[OK]"
INFO = "[INFO]"
ERROR = "[ERREUR]"

_BIGINT = 2**63 - 1


class UsageError(Exception):
    """Ligne de commande refusée : message français, code de sortie 2."""


# Messages d'argparse (anglais, via gettext) -> français. Nos propres
# convertisseurs lèvent déjà en français : seul le préfixe est traduit.
_TRANSLATIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), french)
    for pattern, french in (
        (r"unrecognized arguments: (.*)", "argument inconnu : {0} (voir --help)"),
        (r"argument (\S+): expected one argument", "l'option {0} attend une valeur"),
        (r"argument (\S+): ignored explicit argument (.*)", "l'option {0} ne prend pas de valeur"),
        (r"argument (\S+): (.*)", "{0} : {1}"),
    )
)


def _french(message: str) -> str:
    for pattern, french in _TRANSLATIONS:
        match = pattern.fullmatch(message)
        if match:
            return french.format(*match.groups())
    return f"arguments invalides : {message}"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(_french(message))


class _Once(argparse.Action):
    """Option à valeur unique : la répéter est une erreur, pas « la dernière gagne »."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if getattr(namespace, self.dest) is not None:
            raise argparse.ArgumentError(self, "option donnée deux fois (une seule valeur)")
        setattr(namespace, self.dest, values)


def parser_for(command: str) -> argparse.ArgumentParser:
    """Parseur sans aide automatique ni abréviations (`--act` n'est pas `--actor`)."""
    return _Parser(prog=f"forge {command}", add_help=False, allow_abbrev=False)


def _text(value: str) -> str:
    if not value.strip():
        # Un « --actor "$VAR" » vide élargirait l'export à tout le journal.
        raise argparse.ArgumentTypeError("valeur vide")
    return value


def _date(option: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        _text(value)
        try:
            parse_bound(value, option)
        except AuditError:
            raise argparse.ArgumentTypeError(
                f"date illisible {terminal_text(value)!r} ; formes acceptées : AAAA-MM-JJ "
                '(journée entière) ou "AAAA-MM-JJ HH:MM:SS", en UTC'
            ) from None
        return value

    return check


def positive_int(maximum: int = _BIGINT) -> Callable[[str], int]:
    """Convertisseur d'entier entre 1 et `maximum`, message français."""

    def check(value: str) -> int:
        text = value.strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise argparse.ArgumentTypeError(
                f"entier attendu entre 1 et {maximum} (reçu : {terminal_text(value)!r})"
            )
        number = int(text)
        if not 1 <= number <= maximum:
            raise argparse.ArgumentTypeError(f"doit être entre 1 et {maximum} (reçu : {number})")
        return number

    return check


def _target(value: str) -> tuple[str, str | None]:
    kind, sep, ident = _text(value).partition(":")
    if not kind.strip():
        raise argparse.ArgumentTypeError("TYPE manquant ; forme attendue TYPE ou TYPE:ID")
    if sep and not ident.strip():
        raise argparse.ArgumentTypeError("ID vide après « : » ; forme attendue TYPE ou TYPE:ID")
    return kind, (ident if sep else None)


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Les filtres communs aux deux commandes, dans l'ordre de l'aide."""
    parser.add_argument("--actor", action=_Once, type=_text)
    parser.add_argument("--action", action=_Once, type=_text)
    parser.add_argument("--target", action=_Once, type=_target)
    parser.add_argument("--request-id", action=_Once, type=_text)
    parser.add_argument("--since", action=_Once, type=_date("--since"))
    parser.add_argument("--until", action=_Once, type=_date("--until"))
    parser.add_argument("--before-id", action=_Once, type=positive_int())


def filters_from(options: argparse.Namespace) -> dict[str, Any]:
    """Les filtres lus, sous les noms de `get_audit_log`."""
    target: tuple[str, str | None] | None = options.target
    return {
        "actor": options.actor,
        "action": options.action,
        "target_type": None if target is None else target[0],
        "target_id": None if target is None else target[1],
        "request_id": options.request_id,
        "since": options.since,
        "until": options.until,
        "before_id": options.before_id,
    }


def wants_help(args: Sequence[str]) -> bool:
    """`-h` ou `--help` parmi les arguments : la même règle que le dispatch de Forge."""
    return any(arg in ("-h", "--help") for arg in args)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return terminal_text(text) or type(error).__name__


def run_command(body: Callable[[], int]) -> int:
    """Exécute `body` ; toute erreur devient une ligne `[ERREUR]` sur stderr et un code."""
    try:
        return _guarded(body)
    finally:
        _close_backend()


def _close_backend() -> None:
    # Le pool PostgreSQL laissé ouvert à la sortie de l'interpréteur fait attendre
    # ses threads 5 s puis écrit un avertissement sur stderr : on le ferme ici.
    try:
        from core.database.backend import reset_backend

        reset_backend()
    except Exception:  # la commande a déjà rendu son verdict
        pass


def _guarded(body: Callable[[], int]) -> int:
    try:
        return body()
    except UsageError as error:
        print(f"{ERROR} {_one_line(error)}", file=sys.stderr)
        return 2
    except AuditError as error:
        print(f"{ERROR} {_one_line(error)}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `forge audit:show | head` : le lecteur a fini, la sortie est fermée.
        # Rediriger stdout évite un second BrokenPipeError à la fermeture.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print(f"{ERROR} Interrompu.", file=sys.stderr)
        return 130
    except Exception as error:
        # Base injoignable, droits, pilote : la cause en une ligne, sans trace.
        print(
            f"{ERROR} Lecture du journal impossible ({type(error).__name__}) : {_one_line(error)}",
            file=sys.stderr,
        )
        return 1
