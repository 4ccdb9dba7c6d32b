# pyright: strict
"""`forge audit:gc` : purge le journal par âge ; affiche par défaut, `--run` supprime."""

from __future__ import annotations

import argparse
import os
import sys

from forge_mvc_audit.cli._options import (
    INFO,
    OK,
    RERUN_AFTER_INTERRUPT,
    Once,
    integer,
    parser_for,
    run_command,
    wants_help,
)
from forge_mvc_audit.cli._progress import Progress, fmt
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.retention import (
    DEFAULT_BATCH_SIZE,
    cutoff_for_days,
    plan_purge,
    purge_audit_before,
)

KEEP_ENV = "AUDIT_KEEP_DAYS"

_USAGE = f"""\
Usage:
  forge audit:gc --days N [--run] [--batch-size N]

Purge le journal d'audit de ses entrées de plus de N jours (UTC). Sans --run,
affiche seulement ce qui partirait (nombre et borne) et ne supprime rien.

La rétention doit être dite, aucune valeur par défaut n'est supposée :
--days N, ou à défaut la variable {KEEP_ENV}=N (l'option l'emporte).

La suppression se fait par lots (--batch-size, {DEFAULT_BATCH_SIZE} par défaut),
chacun dans sa transaction : une purge interrompue se termine en la relançant.
Sur un journal scellé (forge audit:seal), seuls des segments scellés entiers
partent : la borne est arrondie au scellement précédent, et la purge est
inscrite dans la chaîne (AUDIT_SEAL_KEY requise si la chaîne est en HMAC).

Options:
  --days N          Rétention en jours (entier >= 1).
  --run             Supprime réellement.
  --batch-size N    Entrées supprimées par transaction.
  -h, --help        Affiche cette aide sans rien faire."""

_HOW = f"donnez-la par --days N ou par la variable d'environnement {KEEP_ENV}=N (N >= 1)"


def _parser() -> argparse.ArgumentParser:
    parser = parser_for("audit:gc")
    # Lu en texte : une rétention refusée sort en 1 (AuditError), avec la
    # variable d'environnement en recours, pas en 2 comme une option mal écrite.
    parser.add_argument("--days", action=Once)
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--batch-size", action=Once, type=integer())
    return parser


def _keep_days(option: str | None) -> int:
    """La rétention en jours ; absente ou invalide : `AuditError` (code de sortie 1)."""
    if option is not None:
        source, raw = "--days", option
    else:
        env = os.environ.get(KEEP_ENV)
        if env is None or not env.strip():
            raise AuditError(f"Aucune rétention indiquée : {_HOW}.")
        source, raw = KEEP_ENV, env
    text = raw.strip()
    if not text.lstrip("-").isdigit() or not text.isascii():
        raise AuditError(f"Rétention illisible ({source}={raw!r}) : {_HOW}.")
    days = int(text)
    if days < 1:
        raise AuditError(
            f"Rétention refusée ({source}={days}) : une rétention nulle ou négative viderait "
            f"le journal ; {_HOW}."
        )
    return days


def _run(args: list[str]) -> int:
    if wants_help(args):
        print(_USAGE)
        return 0
    options = _parser().parse_args(args)
    days = _keep_days(options.days)
    cutoff = cutoff_for_days(days)
    plan = plan_purge(cutoff)
    print(
        f"{INFO} Borne : {cutoff} UTC (rétention de {days} jour(s)) ; "
        f"{fmt(plan.old)} entrée(s) antérieure(s)."
    )
    if plan.sealed:
        if plan.boundary is None:
            print(
                f"{INFO} Journal scellé : aucun segment scellé n'est entièrement antérieur à la "
                "borne, rien ne peut partir."
            )
        else:
            seal = "" if plan.boundary_seq is None else f" du scellement n°{plan.boundary_seq}"
            print(
                f"{INFO} Journal scellé : la borne est arrondie à la fin{seal} (id "
                f"{plan.boundary}) ; seuls des segments scellés entiers partent."
            )
        if plan.kept_old:
            print(
                f"{INFO} {fmt(plan.kept_old)} entrée(s) antérieure(s) restent : leur segment "
                "n'est pas entièrement ancien ou pas encore scellé (forge audit:seal)."
            )
    if not options.run:
        print(
            f"{INFO} Aperçu : {fmt(plan.to_delete)} entrée(s) partiraient. Rien n'a été "
            "supprimé ; relancez avec --run pour supprimer."
        )
        return 0
    total = fmt(plan.to_delete)
    # Chaque lot est montré : c'est l'unité de travail, et il dure.
    progress = (
        Progress(sys.stderr, lambda done, _: f"{INFO} {fmt(done)} / {total} supprimée(s)", every=0)
        if sys.stderr.isatty()
        else None
    )
    try:
        deleted = purge_audit_before(
            cutoff, batch_size=options.batch_size or DEFAULT_BATCH_SIZE, progress=progress
        )
    finally:
        if progress is not None:
            progress.clear()
    print(f"{OK} {fmt(deleted)} entrée(s) supprimée(s).")
    return 0


def main(args: list[str]) -> int:
    """Point d'entrée de `forge audit:gc`."""
    return run_command(lambda: _run(args), interrupted=RERUN_AFTER_INTERRUPT)
