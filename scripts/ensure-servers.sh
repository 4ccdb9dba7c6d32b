#!/usr/bin/env bash
# Garantit qu'un serveur PostgreSQL et un serveur MariaDB répondent sur
# 127.0.0.1, puis affiche (dernières lignes de stdout) les « export » à
# évaluer par l'appelant :
#
#   eval "$(scripts/ensure-servers.sh)"
#
# Variables d'environnement reconnues :
#   AUDIT_PG_PORT        port PostgreSQL (défaut 5432)
#   AUDIT_MARIADB_PORT   port MariaDB (défaut 3306)
#   AUDIT_PG_USER        rôle PostgreSQL à essayer en premier (sinon postgres, root, $USER)
#   AUDIT_SERVER_DIR     racine des serveurs jetables : DIR/pg et DIR/mariadb
#                        (défaut : /tmp/forge-audit-pg-PORT et /tmp/forge-audit-mariadb-PORT)
#   AUDIT_SERVER_TIMEOUT délai maximal de démarrage d'un serveur, en secondes (défaut 60)
#   AUDIT_SERVERS_STATE  fichier d'état des serveurs jetables (défaut /tmp/forge-audit-servers.state,
#                        ou /tmp/forge-audit-servers-UID.state hors root)
#
# Pour chaque serveur, par ordre de préférence :
#   1. un serveur répond déjà sur 127.0.0.1:PORT -> on l'utilise ;
#   2. le service Debian (cluster PostgreSQL ou datadir MariaDB du système)
#      est configuré sur ce port mais arrêté -> on le démarre ;
#   3. sinon, un serveur jetable (répertoire sous /tmp), à arrêter avec
#      scripts/stop-test-servers.sh (qui ne touche jamais aux services système).
#
# Seule l'adresse 127.0.0.1 est utilisée, en écoute comme en connexion.
# Messages de progression sur stderr ; stdout ne contient que les « export ».
set -euo pipefail

readonly HOST=127.0.0.1
PG_PORT=${AUDIT_PG_PORT:-5432}
MY_PORT=${AUDIT_MARIADB_PORT:-3306}
SERVER_DIR=${AUDIT_SERVER_DIR:-}
TIMEOUT=${AUDIT_SERVER_TIMEOUT:-60}
DEFAULT_STATE=/tmp/forge-audit-servers.state
[[ "$(id -u)" -eq 0 ]] || DEFAULT_STATE="/tmp/forge-audit-servers-$(id -u).state"
STATE_FILE=${AUDIT_SERVERS_STATE:-$DEFAULT_STATE}
readonly MARKER=.forge-audit-throwaway
readonly READY=.forge-audit-ready

info() { echo "[INFO] $*" >&2; }
ok() { echo "[OK] $*" >&2; }
warn() { echo "[ATTENTION] $*" >&2; }
die() {
    echo "[ERREUR] $*" >&2
    exit 1
}

[[ "$PG_PORT" =~ ^[0-9]+$ ]] || die "AUDIT_PG_PORT n'est pas un nombre : « $PG_PORT »."
[[ "$MY_PORT" =~ ^[0-9]+$ ]] || die "AUDIT_MARIADB_PORT n'est pas un nombre : « $MY_PORT »."
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || die "AUDIT_SERVER_TIMEOUT n'est pas un nombre : « $TIMEOUT »."
((PG_PORT > 0 && PG_PORT < 65536)) || die "AUDIT_PG_PORT hors limites : $PG_PORT."
((MY_PORT > 0 && MY_PORT < 65536)) || die "AUDIT_MARIADB_PORT hors limites : $MY_PORT."
[[ "$PG_PORT" != "$MY_PORT" ]] || die "AUDIT_PG_PORT et AUDIT_MARIADB_PORT doivent différer ($PG_PORT)."

IS_ROOT=0
[[ "$(id -u)" -eq 0 ]] && IS_ROOT=1
ME=$(id -un)

# Une seule exécution à la fois (deux exécutions concurrentes ne doivent pas
# initialiser le même répertoire). Le descripteur 9 est fermé (9>&-) pour tous
# les démons lancés, sinon ils garderaient le verrou.
exec 9>>"${STATE_FILE}.lock"
if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "Verrou ${STATE_FILE}.lock non obtenu en 300 s (autre exécution bloquée ?)."
fi

# --------------------------------------------------------------------------
# Outils communs
# --------------------------------------------------------------------------
POLICY_RC_CREATED=0
cleanup() {
    if ((POLICY_RC_CREATED)); then
        rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup EXIT

# apt-get : « update » au plus une fois, seulement si on installe quelque chose.
APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "Paquets manquants ($*) et apt-get introuvable : installez-les à la main."
    ((IS_ROOT)) || die "Paquets manquants ($*) : relancez ce script en root (ou installez-les : sudo apt-get install $*)."
    local opts=(-q -o DPkg::Lock::Timeout=300)
    if ((!APT_UPDATED)); then
        info "apt-get update…"
        apt-get "${opts[@]}" update </dev/null >&2 9>&- \
            || die "« apt-get update » a échoué (dépôts Debian inaccessibles ?)."
        APT_UPDATED=1
    fi
    # Sans systemd, le postinst Debian lancerait le service via invoke-rc.d et
    # ferait échouer l'installation si ce démarrage échoue : on l'en empêche le
    # temps de l'installation (policy-rc.d, code 101) ; ce script démarre
    # ensuite le serveur lui-même.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# Temporaire : scripts/ensure-servers.sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=1
    fi
    info "apt-get install $*…"
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" install -y "$@" </dev/null >&2 9>&- || rc=$?
    if ((POLICY_RC_CREATED)); then
        rm -f /usr/sbin/policy-rc.d
        POLICY_RC_CREATED=0
    fi
    ((rc == 0)) || die "Échec de « apt-get install $* »."
}

# Exécute une commande en tant que l'utilisateur système $1 (si on est root).
run_as() {
    local user=$1
    shift
    if ((IS_ROOT)) && [[ "$user" != root ]]; then
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

# Remplace la ligne d'état « genre<TAB>port<TAB>racine<TAB>pid ».
record_state() {
    local kind=$1 port=$2 dir=$3 pid=$4 tmp
    tmp=$(mktemp "${STATE_FILE}.XXXXXX")
    if [[ -f "$STATE_FILE" ]]; then
        awk -F '\t' -v k="$kind" -v p="$port" '!($1 == k && $2 == p)' "$STATE_FILE" >"$tmp" || true
    fi
    printf '%s\t%s\t%s\t%s\n' "$kind" "$port" "$dir" "$pid" >>"$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$STATE_FILE"
}

# Prépare la racine d'un serveur jetable :
#   RACINE/.forge-audit-throwaway  témoin « créé par ce script » (posé dès la création)
#   RACINE/.forge-audit-ready      posé quand l'initialisation a réussi
#   RACINE/data                    données du serveur ; journaux et socket dans RACINE
# Refuse un répertoire non vide sans témoin. Renvoie 0 si déjà initialisé,
# 1 s'il faut l'initialiser (la racine ne contient alors que le témoin).
prepare_throwaway_dir() {
    local dir=$1 owner=$2
    case "$dir" in
        /var/lib/mysql* | /var/lib/postgresql* | / | /tmp | /tmp/ | /root | /root/)
            die "Répertoire jetable refusé : $dir" ;;
    esac
    [[ "$dir" == /* ]] || die "Le répertoire jetable doit être un chemin absolu : $dir"
    [[ "$dir" != *"'"* ]] || die "Le chemin $dir ne doit pas contenir d'apostrophe."
    if [[ -d "$dir" ]] && [[ -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
        [[ -f "$dir/$MARKER" ]] \
            || die "$dir existe, n'est pas vide et n'a pas été créé par ce script : choisissez un autre AUDIT_SERVER_DIR ou videz-le."
        if [[ -f "$dir/$READY" && -d "$dir/data" ]]; then
            return 0
        fi
        warn "Initialisation incomplète dans $dir : réinitialisation."
        rm -rf -- "$dir"
    fi
    mkdir -p -- "$(dirname -- "$dir")"
    install -d -m 0755 -o "$owner" -g "$(id -gn "$owner")" -- "$dir"
    if ! run_as "$owner" touch "$dir/$MARKER"; then
        rmdir -- "$dir" 2>/dev/null || true
        die "L'utilisateur système $owner ne peut pas écrire dans $dir (un répertoire parent lui est-il fermé, comme /root ?). Choisissez un AUDIT_SERVER_DIR accessible, par exemple sous /tmp."
    fi
    return 1
}

# wait_until DÉLAI PID_OU_VIDE COMMANDE… : réessaie COMMANDE toutes les 0,5 s.
# Renvoie 0 si elle réussit, 2 si le processus PID meurt, 1 au bout du délai.
wait_until() {
    local timeout=$1 pid=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        if "$@"; then
            return 0
        fi
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 2
        fi
        sleep 0.5
    done
    "$@"
}

# ==========================================================================
# PostgreSQL
# ==========================================================================
PGBIN=""
find_pg_bin() {
    local d best="" bestv=0 v
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql" && -x "$d/pg_isready" ]] || continue
        v=${d#/usr/lib/postgresql/}
        v=${v%%/*}
        [[ "$v" =~ ^[0-9]+$ ]] || continue
        if ((v > bestv)); then
            best=$d
            bestv=$v
        fi
    done
    if [[ -z "$best" ]] && command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/psql" && -x "$d/pg_isready" ]]; then
            best=$d
        fi
    fi
    PGBIN=$best
    [[ -n "$PGBIN" ]]
}

pg_answers() {
    "$PGBIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 3 </dev/null 2>/dev/null
}

# Affiche le premier rôle superutilisateur qui se connecte sans mot de passe.
pg_find_superuser() {
    local u seen=" " out
    local candidates=("${AUDIT_PG_USER:-}" postgres root "${USER:-$ME}" "$ME")
    for u in "${candidates[@]}"; do
        [[ -n "$u" && "$seen" != *" $u "* ]] || continue
        seen+="$u "
        out=$(PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -w -q -At -h "$HOST" -p "$PG_PORT" -U "$u" -d postgres \
            -c "select rolsuper from pg_roles where rolname = current_user" 2>/dev/null </dev/null) || continue
        if [[ "$out" == t ]]; then
            printf '%s\n' "$u"
            return 0
        fi
        warn "PostgreSQL : le rôle « $u » se connecte mais n'est pas superutilisateur."
    done
    return 1
}

PG_STARTED_DEBIAN=""
# Démarre le cluster Debian configuré sur ce port s'il est arrêté.
pg_start_debian() {
    local cluster ver name
    ((IS_ROOT)) || return 1
    command -v pg_lsclusters >/dev/null 2>&1 && command -v pg_ctlcluster >/dev/null 2>&1 || return 1
    cluster=$(pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p && $4 ~ /^down/ { print $1, $2; exit }')
    [[ -n "$cluster" ]] || return 1
    read -r ver name <<<"$cluster"
    info "PostgreSQL : démarrage du cluster Debian $ver/$name (port $PG_PORT)…"
    install -d -m 2775 -o postgres -g postgres /var/run/postgresql 2>/dev/null || true
    if ! pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start </dev/null >&2 9>&-; then
        warn "PostgreSQL : « pg_ctlcluster $ver $name start » a échoué ; serveur jetable à la place."
        return 1
    fi
    PG_STARTED_DEBIAN="$ver $name"
    if wait_until "$TIMEOUT" "" pg_answers; then
        return 0
    fi
    warn "PostgreSQL : le cluster Debian $ver/$name ne répond pas sur $HOST:$PG_PORT."
    pg_stop_debian
    return 1
}

# Arrête le cluster Debian seulement si ce script vient de le démarrer.
pg_stop_debian() {
    local ver name
    [[ -n "$PG_STARTED_DEBIAN" ]] || return 0
    read -r ver name <<<"$PG_STARTED_DEBIAN"
    info "PostgreSQL : arrêt du cluster Debian $ver/$name que ce script venait de démarrer."
    pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" stop -m fast </dev/null >&2 9>&- || true
    PG_STARTED_DEBIAN=""
}

pg_initdb() {
    local data=$1 owner=$2 log=$3
    if run_as "$owner" "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        </dev/null >"$log" 2>&1 9>&-; then
        return 0
    fi
    warn "initdb avec --locale=C.UTF-8 a échoué, nouvel essai avec --no-locale."
    rm -rf -- "$data"
    if run_as "$owner" "$PGBIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale \
        </dev/null >"$log" 2>&1 9>&-; then
        return 0
    fi
    tail -n 20 "$log" >&2
    die "PostgreSQL : initdb a échoué dans $data (journal : $log)."
}

pg_start_throwaway() {
    local dir data owner=postgres ver_bin ver_dir sockdir
    dir=${SERVER_DIR:+$SERVER_DIR/pg}
    dir=${dir:-/tmp/forge-audit-pg-$PG_PORT}
    data=$dir/data
    if ((IS_ROOT)); then
        getent passwd postgres >/dev/null \
            || die "L'utilisateur système « postgres » n'existe pas (initdb refuse de tourner en root). Installez le paquet postgresql."
    else
        owner=$ME
    fi
    ver_bin=$("$PGBIN/pg_ctl" --version | awk '{print $NF}')
    ver_bin=${ver_bin%%.*}
    if prepare_throwaway_dir "$dir" "$owner"; then
        ver_dir=$(cat "$data/PG_VERSION" 2>/dev/null || echo '?')
        if [[ "$ver_dir" != "$ver_bin" ]]; then
            warn "PostgreSQL : $data vient de PostgreSQL $ver_dir (binaires : $ver_bin), réinitialisation."
            rm -rf -- "$dir"
            prepare_throwaway_dir "$dir" "$owner" || true
        fi
    fi
    if [[ ! -f "$dir/$READY" ]]; then
        info "PostgreSQL : création d'un cluster jetable dans $data…"
        pg_initdb "$data" "$owner" "$dir/initdb.log"
        printf "include_if_exists = 'forge-audit.conf'\n" | run_as "$owner" tee -a "$data/postgresql.conf" >/dev/null
        run_as "$owner" touch "$dir/$READY"
    fi
    # Chemin de socket unix limité (~107 octets) : au-delà, TCP seulement.
    sockdir=$dir
    if ((${#dir} + 20 > 107)); then
        sockdir=""
    fi
    # Réécrit à chaque démarrage (le port a pu changer).
    run_as "$owner" tee "$data/forge-audit.conf" >/dev/null <<EOF
# Écrit par scripts/ensure-servers.sh : serveur de test jetable.
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$sockdir'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if run_as "$owner" "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        info "PostgreSQL : le serveur de $data tourne mais ne répond pas sur le port $PG_PORT, redémarrage."
        run_as "$owner" "$PGBIN/pg_ctl" -D "$data" -m fast -w -t 30 stop </dev/null >/dev/null 2>&1 9>&- || true
    fi
    info "PostgreSQL : démarrage du serveur jetable sur $HOST:$PG_PORT…"
    if ! run_as "$owner" "$PGBIN/pg_ctl" -D "$data" -l "$dir/server.log" -w -t "$TIMEOUT" start \
        </dev/null >"$dir/pg_ctl.out" 2>&1 9>&-; then
        cat "$dir/pg_ctl.out" >&2 || true
        echo "----- fin de $dir/server.log -----" >&2
        tail -n 30 "$dir/server.log" >&2 2>/dev/null || true
        die "PostgreSQL : le serveur jetable n'a pas démarré sur $HOST:$PG_PORT (journal : $dir/server.log)."
    fi
    if ! wait_until "$TIMEOUT" "" pg_answers; then
        tail -n 30 "$dir/server.log" >&2 2>/dev/null || true
        die "PostgreSQL : le serveur jetable ne répond pas sur $HOST:$PG_PORT (journal : $dir/server.log)."
    fi
    record_state pg "$PG_PORT" "$dir" "$(head -n 1 "$data/postmaster.pid" 2>/dev/null || echo '?')"
    ok "PostgreSQL jetable démarré ($data, port $PG_PORT) ; arrêt : scripts/stop-test-servers.sh"
}

ensure_postgres() {
    local t0=$SECONDS
    if ! find_pg_bin; then
        info "PostgreSQL : binaires absents, installation du paquet postgresql."
        apt_install postgresql
        find_pg_bin || die "PostgreSQL : binaires toujours introuvables après l'installation."
    fi
    if pg_answers; then
        info "PostgreSQL répond déjà sur $HOST:$PG_PORT."
    elif ! pg_start_debian; then
        pg_start_throwaway
    fi
    if ! PG_USER=$(pg_find_superuser); then
        if [[ -n "$PG_STARTED_DEBIAN" ]]; then
            # Cluster Debian démarré par nous, mais son pg_hba exige un mot de
            # passe en TCP (défaut Debian) : on le rend et on prend un jetable.
            warn "PostgreSQL : aucun superutilisateur sans mot de passe sur le cluster Debian ; serveur jetable à la place."
            pg_stop_debian
            pg_start_throwaway
            PG_USER=$(pg_find_superuser) || die "PostgreSQL : aucun superutilisateur accessible sur le serveur jetable."
        else
            die "PostgreSQL répond sur $HOST:$PG_PORT mais aucun superutilisateur ne s'y connecte sans mot de passe
         (essayés : ${AUDIT_PG_USER:+$AUDIT_PG_USER, }postgres, root, ${USER:-$ME}).
         Autorisez « host all all 127.0.0.1/32 trust » dans pg_hba.conf, indiquez AUDIT_PG_USER,
         ou choisissez un port libre (ex. AUDIT_PG_PORT=55432) pour obtenir un serveur jetable."
        fi
    fi
    ok "PostgreSQL : $HOST:$PG_PORT, superutilisateur « $PG_USER » ($((SECONDS - t0)) s)."
}

# ==========================================================================
# MariaDB
# ==========================================================================
MY_CLIENT=""
MY_ADMIN=""
MARIADBD=""
find_my_client() {
    MY_CLIENT=$(command -v mariadb || command -v mysql || true)
    MY_ADMIN=$(command -v mariadb-admin || command -v mysqladmin || true)
    [[ -n "$MY_CLIENT" ]]
}
find_mariadbd() {
    local c
    MARIADBD=""
    for c in /usr/sbin/mariadbd /usr/sbin/mysqld "$(command -v mariadbd || true)"; do
        if [[ -n "$c" && -x "$c" ]]; then
            MARIADBD=$c
            return 0
        fi
    done
    return 1
}

# Un serveur répond-il ? « ping » réussit même si l'accès est refusé (1045),
# mais échoue si l'hôte n'est pas autorisé (1130, root Debian en unix_socket
# avec skip-name-resolve) : seule l'absence de connexion (« Can't connect »,
# 2002/2003) veut dire « personne ne répond ».
my_answers() {
    if [[ -n "$MY_ADMIN" ]]; then
        local out
        out=$("$MY_ADMIN" --no-defaults --protocol=TCP -h "$HOST" -P "$MY_PORT" -uroot --connect-timeout=3 ping \
            2>&1 </dev/null) && return 0
        [[ -n "$out" && "$out" != *"Can't connect"* && "$out" != *"(200"[23]")"* ]]
    else
        # Sans client : un serveur MySQL/MariaDB envoie un paquet d'accueil dès la connexion.
        local greeting
        # shellcheck disable=SC2016 # $0/$1 sont développés par le bash fils.
        greeting=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && head -c 5 <&3 | od -An -tx1' \
            "$HOST" "$MY_PORT" 2>/dev/null </dev/null) || return 1
        [[ -n "${greeting// /}" ]]
    fi
}

my_root_tcp_ok() {
    "$MY_CLIENT" --no-defaults --protocol=TCP -h "$HOST" -P "$MY_PORT" -uroot --connect-timeout=5 -N -B \
        -e 'select 1' >/dev/null 2>&1 </dev/null
}

# Sockets unix candidates pour le serveur du port $MY_PORT.
MY_THROWAWAY_SOCKET=""
my_socket_candidates() {
    local s
    if [[ -n "$MY_THROWAWAY_SOCKET" ]]; then
        echo "$MY_THROWAWAY_SOCKET"
    fi
    if command -v my_print_defaults >/dev/null 2>&1; then
        my_print_defaults --mysqld client-server client 2>/dev/null | sed -n 's/^--socket=//p'
    fi
    for s in /run/mysqld/mysqld.sock /var/run/mysqld/mysqld.sock /tmp/mysql.sock \
        "${SERVER_DIR:+$SERVER_DIR/mariadb/mysqld.sock}" \
        "/tmp/forge-audit-mariadb-$MY_PORT/mysqld.sock" "/tmp/forge-audit-mariadb-$MY_PORT.sock"; do
        [[ -n "$s" ]] && echo "$s"
    done
}

# Rend possible « mariadb -h 127.0.0.1 -uroot » sans mot de passe, en passant par
# la socket unix (sous Debian, root@localhost s'y authentifie par unix_socket).
my_fix_root() {
    local sock port sql
    sql="ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
ALTER USER 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;"
    while IFS= read -r sock; do
        [[ -S "$sock" ]] || continue
        port=$("$MY_CLIENT" --no-defaults --socket="$sock" -uroot --connect-timeout=5 -N -B \
            -e 'select @@port' 2>/dev/null </dev/null) || continue
        [[ "$port" == "$MY_PORT" ]] || continue
        info "MariaDB : autorisation de root sans mot de passe depuis $HOST (via la socket $sock)."
        "$MY_CLIENT" --no-defaults --socket="$sock" -uroot -N -B -e "$sql" </dev/null >&2 || return 1
        return 0
    done < <(my_socket_candidates | awk '!seen[$0]++')
    return 1
}

# Démarre le serveur MariaDB de Debian (datadir système) s'il est configuré sur ce port.
my_start_debian() {
    local datadir port pidfile defaults
    ((IS_ROOT)) || return 1
    [[ "$MY_PORT" == 3306 && "$MARIADBD" == /usr/sbin/mariadbd ]] || return 1
    command -v start-stop-daemon >/dev/null 2>&1 || return 1
    getent passwd mysql >/dev/null || return 1
    defaults=""
    if command -v my_print_defaults >/dev/null 2>&1; then
        defaults=$(my_print_defaults --mysqld 2>/dev/null || true)
    fi
    datadir=$(sed -n 's/^--datadir=//p' <<<"$defaults" | tail -n 1)
    port=$(sed -n 's/^--port=//p' <<<"$defaults" | tail -n 1)
    pidfile=$(sed -n 's/^--pid-file=//p' <<<"$defaults" | tail -n 1)
    datadir=${datadir:-/var/lib/mysql}
    port=${port:-3306}
    pidfile=${pidfile:-/run/mysqld/mysqld.pid}
    [[ "$port" == "$MY_PORT" && -d "$datadir/mysql" ]] || return 1
    info "MariaDB : démarrage du serveur Debian ($datadir, port $MY_PORT)…"
    install -d -m 0755 -o mysql -g mysql /run/mysqld 2>/dev/null || true
    if ! start-stop-daemon --start --oknodo --background --pidfile "$pidfile" \
        --exec "$MARIADBD" -- --user=mysql </dev/null >&2 9>&-; then
        warn "MariaDB : start-stop-daemon a échoué ; serveur jetable à la place."
        return 1
    fi
    if wait_until "$TIMEOUT" "" my_answers; then
        return 0
    fi
    warn "MariaDB : le serveur Debian ne répond pas sur $HOST:$MY_PORT après $TIMEOUT s ; arrêt, serveur jetable à la place."
    start-stop-daemon --stop --oknodo --pidfile "$pidfile" --exec "$MARIADBD" --retry 30 </dev/null >&2 9>&- || true
    return 1
}

my_start_throwaway() {
    local dir data owner=mysql log pid rc sock installer user_opt=()
    dir=${SERVER_DIR:+$SERVER_DIR/mariadb}
    dir=${dir:-/tmp/forge-audit-mariadb-$MY_PORT}
    data=$dir/data
    if ((IS_ROOT)); then
        getent passwd mysql >/dev/null \
            || die "L'utilisateur système « mysql » n'existe pas : installez le paquet mariadb-server."
        user_opt=(--user=mysql)
    else
        owner=$ME
    fi
    installer=$(command -v mariadb-install-db || command -v mysql_install_db || true)
    [[ -n "$installer" ]] || die "MariaDB : mariadb-install-db introuvable (paquet mariadb-server)."
    if ! prepare_throwaway_dir "$dir" "$owner"; then
        info "MariaDB : création d'un datadir jetable dans $data…"
        log="$dir/install-db.log"
        if ! "$installer" --no-defaults "${user_opt[@]}" --datadir="$data" \
            --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
            </dev/null >"$log" 2>&1 9>&-; then
            tail -n 30 "$log" >&2
            die "MariaDB : mariadb-install-db a échoué (journal : $log)."
        fi
        run_as "$owner" touch "$dir/$READY"
    fi
    sock="$dir/mysqld.sock"
    if ((${#sock} > 100)); then
        sock="/tmp/forge-audit-mariadb-$MY_PORT.sock"
    fi
    MY_THROWAWAY_SOCKET=$sock
    # Serveur de ce datadir encore vivant mais injoignable sur ce port : on l'arrête.
    pid=$(cat "$dir/mysqld.pid" 2>/dev/null || true)
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
        && tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--datadir=$data"; then
        info "MariaDB : le serveur de $data (pid $pid) tourne mais ne répond pas sur le port $MY_PORT, arrêt."
        kill "$pid" 2>/dev/null || true
        # shellcheck disable=SC2016 # $0 est développé par le bash fils.
        wait_until 60 "" bash -c '! kill -0 "$0" 2>/dev/null' "$pid" || kill -9 "$pid" 2>/dev/null || true
    fi
    info "MariaDB : démarrage du serveur jetable sur $HOST:$MY_PORT…"
    log="$dir/mariadbd.log"
    run_as "$owner" touch "$log"
    setsid nohup "$MARIADBD" --no-defaults "${user_opt[@]}" --datadir="$data" \
        --port="$MY_PORT" --bind-address="$HOST" --skip-networking=0 --skip-name-resolve \
        --socket="$sock" --pid-file="$dir/mysqld.pid" --log-error="$log" \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --innodb-flush-log-at-trx-commit=2 \
        </dev/null >>"$dir/mariadbd.out" 2>&1 9>&- &
    pid=$!
    rc=0
    wait_until "$TIMEOUT" "$pid" my_answers || rc=$?
    if ((rc != 0)); then
        echo "----- fin de $log -----" >&2
        tail -n 30 "$log" >&2 2>/dev/null || true
        tail -n 10 "$dir/mariadbd.out" >&2 2>/dev/null || true
        if ((rc == 2)); then
            die "MariaDB : mariadbd s'est arrêté au démarrage (journal : $log)."
        fi
        kill "$pid" 2>/dev/null || true
        die "MariaDB : le serveur jetable ne répond pas sur $HOST:$MY_PORT après $TIMEOUT s (journal : $log)."
    fi
    pid=$(cat "$dir/mysqld.pid" 2>/dev/null || echo "$pid")
    record_state mariadb "$MY_PORT" "$dir" "$pid"
    ok "MariaDB jetable démarré ($data, port $MY_PORT, pid $pid) ; arrêt : scripts/stop-test-servers.sh"
}

ensure_mariadb() {
    local t0=$SECONDS
    find_my_client || true
    if [[ -n "$MY_CLIENT" ]] && my_answers; then
        info "MariaDB répond déjà sur $HOST:$MY_PORT."
    else
        if ! find_mariadbd; then
            info "MariaDB : serveur absent, installation du paquet mariadb-server."
            apt_install mariadb-server
            find_mariadbd || die "MariaDB : mariadbd toujours introuvable après l'installation."
        fi
        if ! find_my_client; then
            apt_install mariadb-client
            find_my_client || die "MariaDB : client mariadb toujours introuvable après l'installation."
        fi
        if my_answers; then
            info "MariaDB répond sur $HOST:$MY_PORT."
        elif ! my_start_debian; then
            my_start_throwaway
        fi
    fi
    if ! my_root_tcp_ok; then
        my_fix_root || true
        if ! my_root_tcp_ok; then
            die "Un serveur répond sur $HOST:$MY_PORT (est-ce bien MariaDB ?) mais « root » sans mot de passe y est refusé en TCP,
         et la correction via la socket unix a échoué (il faut être root sur la machine).
         Choisissez un port libre (ex. AUDIT_MARIADB_PORT=33306) pour obtenir un serveur jetable."
        fi
    fi
    ok "MariaDB : $HOST:$MY_PORT, utilisateur root sans mot de passe ($((SECONDS - t0)) s)."
}

ensure_postgres
ensure_mariadb

printf 'export AUDIT_PG_HOST=%s AUDIT_PG_PORT=%s AUDIT_PG_USER=%q\n' "$HOST" "$PG_PORT" "$PG_USER"
printf 'export AUDIT_MARIADB_HOST=%s AUDIT_MARIADB_PORT=%s AUDIT_MARIADB_USER=root AUDIT_MARIADB_PASSWORD=\n' "$HOST" "$MY_PORT"
