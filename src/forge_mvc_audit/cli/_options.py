# pyright: strict
"""Ce que partagent les commandes `forge audit:*` qui ouvrent la base.

Lecture des options (argparse, messages en français, sans abréviation, une
option répétée refusée), filtres de `audit:show`/`audit:export`, et
exécution protégée : chaque erreur devient une seule ligne `[ERREUR] ...` sur
la sortie d'erreur et un code de sortie (2 : la ligne de commande ; 1 : la
base ou le fichier ; 130 : une interruption), jamais une trace d'exécution.
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
    "FILTER_HELP",
    "INFO",
    "OK",
    "RERUN_AFTER_INTERRUPT",
    "Once",
    "UsageError",
    "add_filter_options",
    "filters_from",
    "integer",
    "parser_for",
    "run_command",
    "wants_help",
]

OK = "[OK]"
INFO = "[INFO]"
ERROR = "[ERREUR]"

#: Après Ctrl-C dans une commande qui valide par étapes (ou pas du tout) : la relancer suffit.
RERUN_AFTER_INTERRUPT = "Interrompu : ce qui était validé le reste, relancez pour terminer."

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
        (
            r"argument (\S+): ignored explicit argument (['\"])(.*)\2",
            "l'option {0} ne prend pas de valeur (reçu : {0}={2})",
        ),
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


class Once(argparse.Action):
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


def integer(minimum: int = 1, maximum: int = _BIGINT) -> Callable[[str], int]:
    """Convertisseur d'entier écrit en chiffres, entre `minimum` et `maximum`, message français."""

    # Sans plafond métier, 2**63-1 n'aide personne : on ne le cite que s'il est dépassé.
    wanted = f"entre {minimum} et {maximum}" if maximum < _BIGINT else f">= {minimum}"

    def check(value: str) -> int:
        text = value.strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise argparse.ArgumentTypeError(
                f"entier attendu {wanted}, valeur illisible : {terminal_text(value)!r}"
            )
        number = int(text)
        if not minimum <= number <= maximum:
            raise argparse.ArgumentTypeError(
                f"doit être entre {minimum} et {maximum} (reçu : {number})"
            )
        return number

    return check


def _target(value: str) -> tuple[str, str | None]:
    kind, sep, ident = _text(value).partition(":")
    if not kind.strip():
        raise argparse.ArgumentTypeError("TYPE manquant ; forme attendue TYPE ou TYPE:ID")
    if sep and not ident.strip():
        raise argparse.ArgumentTypeError("ID vide après « : » ; forme attendue TYPE ou TYPE:ID")
    return kind, (ident if sep else None)


#: Aide des options de filtre communes à audit:show et audit:export.
FILTER_HELP = """\
Filtres (combinés par ET) :
  --actor ACTEUR        Entrées de cet acteur (valeur exacte).
  --action ACTION       Entrées de cette action (valeur exacte).
  --target TYPE[:ID]    Entrées visant ce type d'objet, ou cet objet précis.
  --request-id ID       Entrées écrites pendant cette requête HTTP.
  --since DATE          À partir de DATE incluse : AAAA-MM-JJ ou
                        "AAAA-MM-JJ HH:MM:SS" (UTC).
  --until DATE          Jusqu'à DATE incluse (une date seule inclut toute la
                        journée).
"""


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """Les filtres communs aux deux commandes, dans l'ordre de l'aide."""
    parser.add_argument("--actor", action=Once, type=_text)
    parser.add_argument("--action", action=Once, type=_text)
    parser.add_argument("--target", action=Once, type=_target)
    parser.add_argument("--request-id", action=Once, type=_text)
    parser.add_argument("--since", action=Once, type=_date("--since"))
    parser.add_argument("--until", action=Once, type=_date("--until"))
    parser.add_argument("--before-id", action=Once, type=integer())


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


def run_command(body: Callable[[], int], *, interrupted: str = "Interrompu.") -> int:
    """Exécute `body` ; toute erreur devient une ligne `[ERREUR]` sur stderr et un code.

    `interrupted` : la ligne affichée après Ctrl-C (code 130), pour dire ce
    qu'il reste de l'opération.
    """
    try:
        return _guarded(body, interrupted)
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


def _guarded(body: Callable[[], int], interrupted: str) -> int:
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
        print(f"{ERROR} {interrupted}", file=sys.stderr)
        return 130
    except Exception as error:
        # Base injoignable, droits, pilote : la cause en une ligne, sans trace.
        from core.database.errors import DatabaseError

        what = "Base de données" if isinstance(error, DatabaseError) else "Échec"
        print(f"{ERROR} {what} ({type(error).__name__}) : {_one_line(error)}", file=sys.stderr)
        return 1
