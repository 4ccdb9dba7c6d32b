#!/usr/bin/env bash
# Arrête les serveurs de test jetables démarrés par scripts/ensure-servers.sh
# (ceux inscrits dans le fichier d'état), et seulement eux : les services
# système (cluster PostgreSQL Debian, MariaDB de /var/lib/mysql) ne sont
# jamais arrêtés, même si ensure-servers.sh les a démarrés.
#
#   scripts/stop-test-servers.sh           # arrête, garde les données (redémarrage rapide)
#   scripts/stop-test-servers.sh --purge   # arrête et supprime les répertoires jetables
#
# AUDIT_SERVERS_STATE : fichier d'état (défaut /tmp/forge-audit-servers.state).
set -euo pipefail

DEFAULT_STATE=/tmp/forge-audit-servers.state
[[ "$(id -u)" -eq 0 ]] || DEFAULT_STATE="/tmp/forge-audit-servers-$(id -u).state"
STATE_FILE=${AUDIT_SERVERS_STATE:-$DEFAULT_STATE}
readonly MARKER=.forge-audit-throwaway
PURGE=0

info() { echo "[INFO] $*" >&2; }
ok() { echo "[OK] $*" >&2; }
warn() { echo "[ATTENTION] $*" >&2; }
die() {
    echo "[ERREUR] $*" >&2
    exit 1
}

for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=1 ;;
        -h | --help)
            sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "Option inconnue : $arg (options : --purge)" ;;
    esac
done

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1

exec 9>>"${STATE_FILE}.lock"
if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "Verrou ${STATE_FILE}.lock non obtenu en 300 s."
fi

if [[ ! -s "$STATE_FILE" ]]; then
    info "Aucun serveur de test jetable enregistré ($STATE_FILE)."
    exit 0
fi

run_as() {
    local user=$1
    shift
    if ((IS_ROOT)) && [[ "$user" != root ]]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Garde-fou : seulement des répertoires créés par ensure-servers.sh.
is_throwaway_dir() {
    local dir=$1
    case "$dir" in
        "" | / | /var/lib/* | /etc/* | /usr/* | /run/* | /var/run/*) return 1 ;;
    esac
    [[ "$dir" == /* && -d "$dir" && -f "$dir/$MARKER" ]]
}

wait_gone() {
    local pid=$1 timeout=$2 deadline
    deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null; do
        ((SECONDS < deadline)) || return 1
        sleep 0.5
    done
}

stop_pg() {
    local port=$1 dir=$2 data ver bin owner
    data=$dir/data
    if [[ ! -f "$data/postmaster.pid" ]]; then
        info "PostgreSQL jetable (port $port, $data) déjà arrêté."
        return 0
    fi
    ver=$(cat "$data/PG_VERSION" 2>/dev/null || true)
    bin=/usr/lib/postgresql/$ver/bin
    if [[ -z "$ver" || ! -x "$bin/pg_ctl" ]]; then
        bin=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
    fi
    owner=$(stat -c %U "$data")
    if [[ -x "$bin/pg_ctl" ]]; then
        info "Arrêt de PostgreSQL jetable (port $port, $data)…"
        if run_as "$owner" "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop </dev/null >&2 9>&-; then
            ok "PostgreSQL jetable (port $port) arrêté."
            return 0
        fi
    fi
    # Repli : signal au postmaster, après vérification de son répertoire de données.
    local pid
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$data"; then
        kill -INT "$pid" 2>/dev/null || true
        wait_gone "$pid" 60 || kill -KILL "$pid" 2>/dev/null || true
        ok "PostgreSQL jetable (port $port) arrêté (pid $pid)."
    else
        info "PostgreSQL jetable (port $port) : aucun processus actif."
    fi
}

stop_mariadb() {
    local port=$1 dir=$2 recorded_pid=$3 data pid
    data=$dir/data
    pid=$(cat "$dir/mysqld.pid" 2>/dev/null || echo "$recorded_pid")
    if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then
        info "MariaDB jetable (port $port, $data) déjà arrêté."
        return 0
    fi
    # Ne tuer que le mariadbd lancé sur CE datadir.
    if ! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--datadir=$data"; then
        warn "Le pid $pid n'est pas le mariadbd de $data : rien n'est arrêté."
        return 0
    fi
    info "Arrêt de MariaDB jetable (port $port, pid $pid)…"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 60; then
        warn "MariaDB jetable (pid $pid) ne s'arrête pas après 60 s : SIGKILL."
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 10 || true
    fi
    ok "MariaDB jetable (port $port) arrêté."
}

failed=0
while IFS=$'\t' read -r kind port dir pid; do
    [[ -n "${kind:-}" ]] || continue
    if ! is_throwaway_dir "$dir"; then
        warn "Entrée ignorée ($kind, port $port) : $dir n'est pas un répertoire jetable de ensure-servers.sh."
        continue
    fi
    case "$kind" in
        pg) stop_pg "$port" "$dir" || failed=1 ;;
        mariadb) stop_mariadb "$port" "$dir" "$pid" || failed=1 ;;
        *)
            warn "Entrée inconnue ignorée : $kind"
            continue
            ;;
    esac
    if ((PURGE)); then
        info "Suppression de $dir."
        rm -rf -- "$dir"
    fi
done <"$STATE_FILE"

if ((failed)); then
    die "Certains serveurs n'ont pas pu être arrêtés (état conservé dans $STATE_FILE)."
fi
# Tout est arrêté (ou n'était plus là) : l'état repart à vide.
rm -f "$STATE_FILE"
ok "Serveurs de test jetables arrêtés."
