# pyright: strict
"""Pannes du stockage que Forge laisse brutes, rendues sous ses propres types.

Forge ne qualifie que le doublon, la clé étrangère et l'indisponibilité
passagère qu'il reconnaît : le reste remonte tel que le pilote le lève. Pour
le journal, un support en lecture seule ou plein n'est pas une erreur de saisie
(pas d'`AuditError`) mais une panne que l'exploitant doit voir nommée : la
racine `DatabaseError` de Forge, message en français, cause du pilote gardée.
Une connexion MariaDB coupée en pleine écriture (erreurs réseau 5013/5014 du
connecteur, que Forge ne reconnaît pas) devient `DatabaseUnavailableError`,
comme les autres coupures.
"""

from __future__ import annotations

from core.database.errors import DatabaseError, DatabaseUnavailableError

__all__ = ["storage_failure"]

_NOTHING_WRITTEN = "Rien n'a été écrit."

_READ_ONLY = (
    "Le journal d'audit est en lecture seule : la base refuse toute écriture "
    "(fichier, dossier ou montage en lecture seule, ou serveur en mode lecture seule). "
    + _NOTHING_WRITTEN
)
_FULL = (
    "Le journal d'audit ne peut plus grandir : le disque (ou l'espace alloué à la "
    "base) est plein. Libérez de la place. " + _NOTHING_WRITTEN
)
_CANT_OPEN = (
    "SQLite ne peut pas ouvrir la base du journal d'audit ou son journal de transaction "
    "(droits du fichier ou du dossier, chemin devenu inaccessible). " + _NOTHING_WRITTEN
)
_IO = "Erreur d'entrée-sortie du disque pendant l'écriture du journal d'audit. " + _NOTHING_WRITTEN

_SQLITE: dict[str, str] = {
    "SQLITE_READONLY": _READ_ONLY,
    "SQLITE_FULL": _FULL,
    "SQLITE_CANTOPEN": _CANT_OPEN,
    "SQLITE_IOERR": _IO,
}
# SQLSTATE PostgreSQL : disk_full, insufficient_resources, read_only_sql_transaction.
_POSTGRES: dict[str, str] = {"53100": _FULL, "53000": _FULL, "25006": _READ_ONLY}
# errno MariaDB : disque plein, table pleine, --read-only, table en lecture seule.
_MARIADB: dict[int, str] = {1021: _FULL, 1114: _FULL, 1290: _READ_ONLY, 1036: _READ_ONLY}
# Connector/C : lecture, écriture réseau impossibles (serveur tombé pendant l'échange).
_MARIADB_LOST = frozenset({5013, 5014})


def _message(error: BaseException) -> str | None:
    name = getattr(error, "sqlite_errorname", None)
    if isinstance(name, str):
        for prefix, message in _SQLITE.items():
            if name.startswith(prefix):
                return message
        return None
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str):
        return _POSTGRES.get(sqlstate)
    if type(error).__module__.split(".")[0] == "mariadb":
        errno = getattr(error, "errno", None)
        if isinstance(errno, int):
            return _MARIADB.get(errno)
    return None


def _mariadb_lost(error: BaseException) -> bool:
    return (
        type(error).__module__.split(".")[0] == "mariadb"
        and getattr(error, "errno", None) in _MARIADB_LOST
    )


def storage_failure(error: BaseException) -> DatabaseError | None:
    """L'erreur de Forge qui remplace `error`, ou None si `error` n'est pas de ces pannes."""
    if _mariadb_lost(error):
        return DatabaseUnavailableError(str(error))
    message = _message(error)
    if message is None:
        return None
    return DatabaseError(f"{message} (pilote : {error})")
