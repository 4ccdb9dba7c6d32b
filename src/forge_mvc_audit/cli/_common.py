# pyright: strict
"""Ce que partagent les commandes `audit:gc`, `audit:seal` et `audit:verify`.

Un lecteur d'options minimal (`--nom valeur`, `--nom=valeur`, drapeaux) qui
rend une erreur française au lieu de lever, et l'exécution protégée d'une
commande : une erreur attendue devient une ligne `[ERREUR]`, jamais une trace.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from forge_mvc_audit.errors import AuditError

__all__ = [
    "UsageError",
    "fmt",
    "parse_options",
    "parse_positive_int",
    "progress_printer",
    "run_guarded",
]


class UsageError(Exception):
    """Argument refusé ; le message est la ligne `[ERREUR]` à afficher."""


def parse_options(
    args: list[str], command: str, *, valued: set[str], flags: set[str]
) -> dict[str, str | bool]:
    """`{"--days": "90", "--run": True}` ; option inconnue, doublon ou valeur absente : erreur."""
    out: dict[str, str | bool] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        name, eq, inline = arg.partition("=")
        if name in flags and not eq:
            value: str | bool = True
        elif name in valued:
            if eq:
                value = inline
            elif index + 1 < len(args) and not args[index + 1].startswith("--"):
                index += 1
                value = args[index]
            else:
                raise UsageError(f"L'option {name} attend une valeur.")
        else:
            known = ", ".join(sorted(valued | flags))
            raise UsageError(
                f"Argument inattendu : {arg} (options de {command} : {known} ; --help pour l'aide)."
            )
        if name in out:
            raise UsageError(f"L'option {name} est donnée deux fois.")
        out[name] = value
        index += 1
    return out


def parse_positive_int(text: str, what: str, *, minimum: int = 1) -> int:
    """Un entier écrit en chiffres, >= `minimum`, sinon `UsageError`."""
    stripped = text.strip()
    if not stripped.lstrip("-").isdigit() or not stripped.isascii():
        raise UsageError(f"{what} illisible : {text!r} (un entier attendu).")
    value = int(stripped)
    if value < minimum:
        raise UsageError(f"{what} doit être >= {minimum} (reçu : {value}).")
    return value


def fmt(number: int) -> str:
    """12 345 : les milliers séparés par une espace, comme en français."""
    return f"{number:,}".replace(",", " ")


def run_guarded(body: Callable[[], int]) -> int:
    """Exécute `body` ; `UsageError` sort en 2, toute autre erreur en 1, sans trace."""
    try:
        return body()
    except UsageError as error:
        print(f"[ERREUR] {error}")
        return 2
    except AuditError as error:
        print(f"[ERREUR] {error}")
        return 1
    except KeyboardInterrupt:
        print("[ERREUR] Interrompu : ce qui était validé le reste, relancez pour terminer.")
        return 1
    except Exception as error:  # une commande ne sort jamais en trace
        from core.database.errors import DatabaseError

        detail = str(error).strip().splitlines()[0] if str(error).strip() else "sans détail"
        if isinstance(error, DatabaseError):
            print(f"[ERREUR] Base de données : {detail}")
        else:
            print(f"[ERREUR] Échec ({type(error).__name__}) : {detail}")
        return 1


def progress_printer(total: int) -> Callable[[int], None] | None:
    """Affiche l'avancement sur stderr quand c'est un terminal ; sinon None."""
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        sys.stderr.write(f"\r[INFO] {fmt(done)} / {fmt(total)} supprimée(s)")
        sys.stderr.flush()

    return show
