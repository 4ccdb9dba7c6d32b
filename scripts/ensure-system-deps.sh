#!/usr/bin/env bash
# Installe les paquets Debian dont l'environnement de test a besoin,
# seulement s'ils manquent.
#
#   scripts/ensure-system-deps.sh            # libmariadb-dev (connecteur Python « mariadb »)
#   scripts/ensure-system-deps.sh chromium   # + paquets supplémentaires
#
# « apt-get update » n'est lancé qu'une fois, et seulement si quelque chose
# doit être installé.
set -euo pipefail

info() { echo "[INFO] $*" >&2; }
ok() { echo "[OK] $*" >&2; }
die() {
    echo "[ERREUR] $*" >&2
    exit 1
}

# Paquet installé (état « install ok installed ») ?
pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

missing=()

# libmariadb-dev : fournit mariadb_config et les en-têtes pour compiler le
# connecteur Python « mariadb ». mariadb_config présent suffit (installation
# hors paquet Debian, par exemple).
if pkg_installed libmariadb-dev || command -v mariadb_config >/dev/null 2>&1; then
    ok "libmariadb-dev présent."
else
    missing+=(libmariadb-dev)
fi

for pkg in "$@"; do
    [[ -n "$pkg" ]] || continue
    if pkg_installed "$pkg"; then
        ok "$pkg présent."
    else
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    ok "Toutes les dépendances système sont installées."
    exit 0
fi

command -v apt-get >/dev/null 2>&1 \
    || die "Paquets manquants : ${missing[*]}. apt-get est introuvable : installez-les à la main."

sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 \
        || die "Paquets manquants : ${missing[*]}. Lancez ce script en root (ou installez sudo)."
    sudo_cmd=(sudo)
fi

apt_opts=(-o DPkg::Lock::Timeout=300 -q)

info "Paquets à installer : ${missing[*]}"
info "apt-get update…"
"${sudo_cmd[@]}" apt-get "${apt_opts[@]}" update >&2 \
    || die "« apt-get update » a échoué (réseau ou dépôts Debian inaccessibles ?)."

info "apt-get install ${missing[*]}…"
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get "${apt_opts[@]}" install -y "${missing[@]}" >&2 \
    || die "Échec de l'installation de : ${missing[*]}."

for pkg in "${missing[@]}"; do
    pkg_installed "$pkg" || die "Le paquet $pkg n'est toujours pas installé après apt-get."
done
ok "Installés : ${missing[*]}"
