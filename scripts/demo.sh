#!/usr/bin/env bash
# Démo de forge-mvc-audit sur une machine neuve, de bout en bout, avec SQLite :
#
#   1. trouve un Python >= 3.12 ;
#   2. crée un dossier jetable sous ${TMPDIR:-/tmp}, y installe forge-mvc dans un venv ;
#   3. forge new demo, puis dans le .venv du projet : forge-mvc-sqlite,
#      forge-mvc-entities et ce paquet (depuis ce dépôt) ;
#   4. forge db:config, forge db:init --run, forge audit:init, forge migration:apply ;
#   5. écrit quelques entrées d'une application scolaire et les relit en tableau.
#
# Usage : scripts/demo.sh            (le dossier jetable est supprimé à la fin)
#         KEEP=1 scripts/demo.sh     (le dossier est conservé pour explorer)
#         PYTHON=/chemin/python3.12 scripts/demo.sh
#
# Aucun serveur de base de données n'est nécessaire. Réseau : l'index de paquets
# configuré pour pip (forge-mvc et ses backends sont des préversions, d'où --pre).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEEP="${KEEP:-0}"

info() { printf '[INFO] %s\n' "$*"; }
ok() { printf '[OK] %s\n' "$*"; }
erreur() { printf '[ERREUR] %s\n' "$*" >&2; }

# --------------------------------------------------------------------------
# 1. Python >= 3.12

# Repli si scripts/find-python.sh manque : même logique, en plus court.
find_python_inline() {
    local candidate out
    local -a candidates=()
    [[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
    candidates+=(python3.13 python3.12 python3)
    shopt -s nullglob
    local -a pyenv=(/root/.pyenv/versions/3.1[2-9]*/bin/python "${HOME:-/nonexistent}"/.pyenv/versions/3.1[2-9]*/bin/python)
    shopt -u nullglob
    if ((${#pyenv[@]})); then
        while IFS= read -r candidate; do
            candidates+=("$candidate")
        done < <(printf '%s\n' "${pyenv[@]}" | sort -V -r)
    fi
    for candidate in "${candidates[@]}"; do
        out=$("$candidate" -c 'import sys
if sys.version_info < (3, 12):
    sys.exit(3)
print(sys.executable)' 2>/dev/null) || continue
        if [[ -n "$out" && -x "$out" ]]; then
            printf '%s\n' "$out"
            return 0
        fi
    done
    erreur "Aucun Python >= 3.12 trouvé (forge-mvc l'exige). Installez-en un, ou indiquez-le : PYTHON=/chemin/vers/python3.12 $0"
    return 1
}

if [[ -f "$REPO/scripts/find-python.sh" ]]; then
    PY=$(bash "$REPO/scripts/find-python.sh") || exit 1
else
    PY=$(find_python_inline) || exit 1
fi
info "Python : $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

# --------------------------------------------------------------------------
# 2. Dossier jetable, nettoyé en sortie (sauf KEEP=1)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/forge-audit-demo.XXXXXX")
LOGS="$WORK/journaux"
mkdir -p "$LOGS"

cleanup() {
    local code=$?
    if [[ "$KEEP" == "1" ]]; then
        info "Dossier conservé (KEEP=1) : $WORK"
        info "Pour explorer : cd $WORK/demo && source .venv/bin/activate"
    else
        rm -rf "$WORK"
        if ((code != 0)); then
            info "Dossier jetable supprimé. Relancez avec KEEP=1 pour garder les journaux."
        fi
    fi
    exit "$code"
}
trap cleanup EXIT
trap 'erreur "Échec (ligne $LINENO) : $BASH_COMMAND"' ERR

info "Dossier jetable : $WORK"

# La démo lit sa configuration dans env/dev du projet ; un DB_* du shell appelant
# qu'env/dev ne déclare pas (DB_BACKEND...) s'y ajouterait et la détournerait.
for var in $(compgen -e); do
    if [[ "$var" == DB_* ]]; then
        info "Variable $var ignorée pour la démo."
        unset "$var"
    fi
done
unset VIRTUAL_ENV PYTHONPATH PYTHONHOME || true
export PIP_DISABLE_PIP_VERSION_CHECK=1

# Une commande bavarde (pip, forge new), sortie dans un journal ; affichée si elle échoue.
# Les deux fonctions suivantes sortent elles-mêmes (exit 1) après leur message.
quiet() {
    local label=$1 log="$LOGS/$2.log"
    shift 2
    info "$label"
    if ! "$@" >"$log" 2>&1; then
        erreur "$label : échec. Fin du journal :"
        tail -n 40 "$log" | sed 's/^./    &/' >&2
        exit 1
    fi
}

# Une commande forge du projet : sa sortie est montrée, indentée.
forge_step() {
    local out
    info "forge $*"
    if ! out=$("$PROJECT/.venv/bin/forge" "$@" 2>&1); then
        printf '%s\n' "$out" | sed 's/^./    &/' >&2
        erreur "forge $* a échoué."
        exit 1
    fi
    printf '%s\n' "$out" | sed 's/^./    &/'
}

# --------------------------------------------------------------------------
# 3. forge-mvc, le projet, ses paquets

# shellcheck disable=SC2016  # $1 et $2 sont ceux du bash -c, pas de ce script.
quiet "Création d'un venv avec forge-mvc (pip install --pre forge-mvc)..." venv-forge \
    bash -c '"$1" -m venv "$2" && "$2/bin/python" -m pip install --pre forge-mvc' _ "$PY" "$WORK/venv"

cd "$WORK"
quiet "forge new demo (projet neuf, avec son propre .venv)..." forge-new \
    "$WORK/venv/bin/forge" new demo
PROJECT="$WORK/demo"
cd "$PROJECT"
ok "Projet créé : $PROJECT"

quiet "Installation dans le projet : forge-mvc-sqlite, forge-mvc-entities, forge-mvc-audit (depuis $REPO)..." \
    pip-projet \
    "$PROJECT/.venv/bin/python" -m pip install --pre forge-mvc-sqlite forge-mvc-entities "$REPO"
ok "Paquets installés."

# --------------------------------------------------------------------------
# 4. Base, journal, migrations

forge_step db:config
forge_step db:init --run
forge_step audit:init
forge_step migration:apply

# --------------------------------------------------------------------------
# 5. Quelques entrées d'une application scolaire, relues

info "Écriture de quelques entrées, puis relecture (get_audit_log, la plus récente d'abord) :"
"$PROJECT/.venv/bin/python" - <<'PYTHON'
import sys

sys.path.insert(0, ".")
import config  # noqa: E402,F401  (charge env/dev : DB_NAME=storage/app.db)
from forge_mvc_audit import get_audit_log, record_audit  # noqa: E402

record_audit("connexion", actor="mme.bernard", details="ENT, poste de la salle des profs")
record_audit("eleve.cree", actor="mme.bernard", target_type="eleve", target_id=1024,
             details="Léa Martin, 5e B")
record_audit("note.modifiee", actor="mme.bernard", target_type="note", target_id=5531,
             details="12 -> 15")
record_audit("qcm.corrige", actor="m.petit", target_type="qcm", target_id=87,
             details="Fractions : 28 copies, moyenne 13,4/20")

rows = [("id", "créé le (UTC)", "acteur", "action", "cible", "détails")]
for e in get_audit_log(limit=10):
    target = f"{e.target_type}#{e.target_id}" if e.target_type else "-"
    rows.append((str(e.id), e.created_at, e.actor or "-", e.action, target, e.details or "-"))
widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
rule = "  ".join("-" * w for w in widths)
for n, row in enumerate(rows):
    print("    " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    if n == 0:
        print("    " + rule)
PYTHON

ok "Démo terminée : forge-mvc-audit écrit et relit son journal dans un projet Forge neuf."
