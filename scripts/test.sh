#!/usr/bin/env bash
# La suite complète, sur une machine neuve comme sur celle d'un développeur :
#   1. un Python >= 3.12 et un venv .venv/ avec les dépendances de test ;
#   2. les paquets Debian nécessaires (libmariadb-dev pour le pilote MariaDB,
#      chromium pour les tests de la page du journal dans un vrai navigateur) ;
#   3. PostgreSQL et MariaDB sur 127.0.0.1 : ceux qui répondent, sinon démarrés ;
#   4. ruff, pyright strict, puis pytest (tous les backends, serveurs exigés).
# Les arguments sont passés à pytest (ex. : scripts/test.sh -m fast).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=$(scripts/find-python.sh)
VENV=${AUDIT_VENV:-$PWD/.venv}

# shellcheck disable=SC2086 # liste de paquets séparés par des espaces
scripts/ensure-system-deps.sh chromium ${AUDIT_SYSTEM_PACKAGES:-}

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "[INFO] Création du venv $VENV ($("$PY" --version))." >&2
    "$PY" -m venv "$VENV"
fi
echo "[INFO] Installation des dépendances de test." >&2
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --pre -e ".[test]"

# En deux temps : « eval "$(...)" » masquerait l'échec du script.
server_env=$(scripts/ensure-servers.sh)
eval "$server_env"
export AUDIT_REQUIRE_SERVERS=1 AUDIT_REQUIRE_BROWSER=1

echo "[INFO] ruff" >&2
"$VENV/bin/ruff" check .
echo "[INFO] pyright (strict)" >&2
"$VENV/bin/pyright" --pythonpath "$VENV/bin/python"
echo "[INFO] pytest" >&2
"$VENV/bin/python" -m pytest "$@"
