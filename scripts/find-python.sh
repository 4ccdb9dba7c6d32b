#!/usr/bin/env bash
# Affiche le chemin d'un interpréteur Python >= 3.12 utilisable.
#
# Ordre de recherche : $PYTHON (s'il est défini), python3.13, python3.12,
# python3, puis les installations pyenv (/root/.pyenv et ~/.pyenv),
# /usr/local/bin/python3.1x et /usr/bin/python3.1x.
# Chaque candidat est réellement exécuté : un « shim » pyenv qui échoue
# (« command not found ») est ignoré.
#
# Sortie : le chemin absolu de l'interpréteur sur stdout, code 0.
# Échec : message sur stderr, code 1.
set -euo pipefail

MIN_MAJOR=3
MIN_MINOR=12

# Renvoie 0 si "$1" s'exécute et est un Python >= MIN_MAJOR.MIN_MINOR ;
# affiche alors son chemin réel (sys.executable).
check_python() {
    local candidate=$1 out
    out=$("$candidate" -c "import sys
if sys.version_info >= (${MIN_MAJOR}, ${MIN_MINOR}):
    print(sys.executable)
else:
    sys.exit(3)" 2>/dev/null) || return 1
    [[ -n "$out" && -x "$out" ]] || return 1
    printf '%s\n' "$out"
}

if [[ -n "${PYTHON:-}" ]]; then
    if check_python "$PYTHON"; then
        exit 0
    fi
    echo "[ATTENTION] PYTHON=${PYTHON} n'est pas un Python >= ${MIN_MAJOR}.${MIN_MINOR} exécutable ; recherche d'un autre interpréteur." >&2
fi

candidates=(python3.13 python3.12 python3)

shopt -s nullglob
# Versions les plus récentes d'abord (tri par version décroissante).
pyenv_roots=("/root/.pyenv")
if [[ -n "${HOME:-}" && "$HOME/.pyenv" != "/root/.pyenv" ]]; then
    pyenv_roots+=("$HOME/.pyenv")
fi
if [[ -n "${PYENV_ROOT:-}" ]]; then
    pyenv_roots+=("$PYENV_ROOT")
fi
for root in "${pyenv_roots[@]}"; do
    versions=("$root"/versions/3.1[2-9]* "$root"/versions/3.[2-9][0-9]*)
    if ((${#versions[@]})); then
        while IFS= read -r dir; do
            candidates+=("$dir/bin/python")
        done < <(printf '%s\n' "${versions[@]}" | sort -V -r)
    fi
done
for dir in /usr/local/bin /usr/bin; do
    bins=("$dir"/python3.1[2-9] "$dir"/python3.[2-9][0-9])
    if ((${#bins[@]})); then
        while IFS= read -r bin; do
            candidates+=("$bin")
        done < <(printf '%s\n' "${bins[@]}" | sort -V -r)
    fi
done
shopt -u nullglob

for candidate in "${candidates[@]}"; do
    # Candidat sans « / » : il doit être trouvé dans le PATH.
    if [[ "$candidate" != */* ]] && ! command -v "$candidate" >/dev/null 2>&1; then
        continue
    fi
    if [[ "$candidate" == */* && ! -x "$candidate" ]]; then
        continue
    fi
    if check_python "$candidate"; then
        exit 0
    fi
done

cat >&2 <<EOF
[ERREUR] Aucun Python >= ${MIN_MAJOR}.${MIN_MINOR} trouvé. Ce projet exige Python ${MIN_MAJOR}.${MIN_MINOR} ou plus récent.
         Installez-en un (par exemple « pyenv install 3.12 », ou le paquet python3.12
         de votre distribution), ou indiquez-le explicitement :
             PYTHON=/chemin/vers/python3.12 $0
EOF
exit 1
