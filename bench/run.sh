#!/usr/bin/env bash
# Banc comparatif : ce paquet contre forge-mvc-audit 1.0.0rc9 (PyPI), mêmes charges.
#
#   bash bench/run.sh [--backend sqlite|postgres|mariadb] [--quick] [--reps N]
#                     [--only standalone,tx,read,export,purge,seal,web] [--output FICHIER]
#
# Construit (une fois, puis met en cache) deux venvs sous bench/.venvs/ :
#   ours : forge-mvc + backend(s) + ce dépôt installé depuis l'arbre de travail
#          (non éditable, réinstallé à chaque lancement) ;
#   ref  : forge-mvc + backend(s) + forge-mvc-audit==1.0.0rc9 de PyPI.
# Puis lance bench/driver.py, qui écrit bench/results/latest.md (SQLite complet) ou
# bench/results/latest-<backend>[-quick].md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
VENVS="$BENCH/.venvs"
REF_VERSION="1.0.0rc9"

backend=sqlite
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[$i]}" in
        --backend) backend=${args[$((i + 1))]:-} ;;
        --backend=*) backend=${args[$i]#--backend=} ;;
        -h | --help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
    esac
done
case "$backend" in
    sqlite | postgres | mariadb) ;;
    *)
        echo "[ERREUR] Backend inconnu : « $backend » (sqlite, postgres ou mariadb)." >&2
        exit 2
        ;;
esac

if [[ -x "$ROOT/scripts/find-python.sh" || -f "$ROOT/scripts/find-python.sh" ]]; then
    PY=$(bash "$ROOT/scripts/find-python.sh") || {
        echo "[ERREUR] Aucun Python >= 3.12 trouvé (forge-mvc l'exige)." >&2
        exit 1
    }
else
    PY=${PYTHON:-python3}
fi

# Les backends installés dans les deux venvs : SQLite toujours, plus celui demandé.
packages=(forge-mvc forge-mvc-sqlite)
[[ "$backend" == postgres ]] && packages+=(forge-mvc-postgres)
[[ "$backend" == mariadb ]] && packages+=(forge-mvc-mariadb)

ensure_venv() {
    local name=$1
    shift
    local dir="$VENVS/$name" want stamp
    want="$("$PY" -c 'import sys; print(sys.version.split()[0])') $*"
    stamp="$dir/.bench-stamp"
    if [[ -x "$dir/bin/python" && -f "$stamp" ]] && grep -qxF -- "$want" "$stamp"; then
        return 0
    fi
    echo "[INFO] Venv « $name » : installation de $* …" >&2
    [[ -x "$dir/bin/python" ]] || "$PY" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --pre "$@" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
    "$dir/bin/python" -c 'import forge_mvc_sqlite' || {
        echo "[ERREUR] Venv « $name » : l'installation a échoué." >&2
        exit 1
    }
    echo "$want" >"$stamp"
}

mkdir -p "$VENVS"
ensure_venv ours "${packages[@]}" hatchling
ensure_venv ref "${packages[@]}" "forge-mvc-audit==$REF_VERSION"

# Ce dépôt, tel qu'il est dans l'arbre de travail, sans dépendances (déjà là).
echo "[INFO] Venv « ours » : installation de l'arbre de travail ($ROOT) …" >&2
"$VENVS/ours/bin/python" -m pip install --quiet --no-deps --no-build-isolation \
    --force-reinstall "$ROOT" >&2

exec "$VENVS/ours/bin/python" "$BENCH/driver.py" \
    --ours-python "$VENVS/ours/bin/python" --ref-python "$VENVS/ref/bin/python" "$@"
