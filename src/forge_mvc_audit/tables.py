# pyright: strict
"""Déclaration unique de la table `audit_log`, rendue par dialecte.

`forge audit:init` passe `MIGRATIONS` au mécanisme d'opt-in de Forge
(`cli._support.optin_migrations`), qui rend le SQL pour le backend actif. Les
mêmes rendus, pour les quatre backends, sont versionnés sous `migrations/`
pour être relus avant toute installation.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from core.database.backend import Dialect
from core.database.table_ddl import (
    AddColumn,
    Column,
    Index,
    TableDefinition,
    render_create_table,
)

from forge_mvc_audit.errors import AuditError

__all__ = [
    "BACKENDS",
    "BASE_TABLE",
    "MIGRATIONS",
    "SEAL_TABLE",
    "SEAL_TABLE_NAME",
    "STRING_LENGTH",
    "TABLE",
    "TABLE_NAME",
    "create_table_sql",
    "dialect_for",
]

TABLE_NAME = "audit_log"

#: Longueur des colonnes texte courtes. 191 caractères : la plus grande qu'un
#: index utf8mb4 accepte partout, et celle de la version publiée (mêmes lignes).
STRING_LENGTH = 191

#: Backends dont la migration est rendue et versionnée.
BACKENDS: tuple[str, ...] = ("sqlite", "postgres", "mariadb", "mssql")

_BASE_COLUMNS = [
    Column("id", "identity"),
    Column("actor", "string", length=STRING_LENGTH, nullable=True),
    Column("action", "string", length=STRING_LENGTH),
    Column("target_type", "string", length=STRING_LENGTH, nullable=True),
    Column("target_id", "string", length=STRING_LENGTH, nullable=True),
    Column("details", "text", nullable=True),
    Column("created_at", "datetime", default_now=True),
]

#: La table telle que la crée la première migration : les sept colonnes de la
#: version publiée, même forme, sans index (ils viennent avec l'ajout suivant).
BASE_TABLE = TableDefinition(name=TABLE_NAME, columns=_BASE_COLUMNS, primary_key=["id"])

#: La table complète, source des colonnes et index ajoutés ensuite.
TABLE = TableDefinition(
    name=TABLE_NAME,
    columns=[
        *_BASE_COLUMNS,
        Column("request_id", "string", length=64, nullable=True),
        Column("ip", "string", length=45, nullable=True),
    ],
    primary_key=["id"],
    # Chaque filtre de lecture a son index, terminé par l'id : le tri « plus
    # récent d'abord » se lit dans l'index. created_at à la suite : une période
    # se vérifie sans aller chercher la ligne. L'acteur a en plus un index
    # (actor, created_at, id), qui borne exactement une période d'un acteur
    # (store.narrow_period). La cible n'a pas created_at : l'historique d'un
    # objet est court, et cet index aux clés dispersées est le plus coûteux à
    # tenir à jour (écriture et purge).
    indexes=[
        Index("idx_audit_log_actor", ("actor", "id", "created_at")),
        Index("idx_audit_log_actor_created", ("actor", "created_at", "id")),
        Index("idx_audit_log_action", ("action", "id", "created_at")),
        Index("idx_audit_log_target", ("target_id", "target_type", "id")),
        Index("idx_audit_log_target_type", ("target_type", "id", "created_at")),
        Index("idx_audit_log_created", ("created_at", "id")),
        Index("idx_audit_log_request", ("request_id", "id")),
    ],
)

#: Les index sont créés par la migration additive, pas par la création : sur
#: MariaDB ils seraient dans le `CREATE TABLE IF NOT EXISTS`, et une table déjà
#: là (celle de la version publiée) ne les recevrait jamais.
_ALL_INDEXES: tuple[str, ...] = tuple(i.name for i in TABLE.indexes)

SEAL_TABLE_NAME = "audit_seal"

#: Les scellements du journal (`forge audit:seal`), une chaîne ordonnée par
#: `seq`. `seq` n'est pas une identité : le scelleur le choisit (précédent + 1)
#: et la clé primaire refuse qu'un second scelleur concurrent forke la chaîne.
#: Les champs texte restent sous 64 Ko (TEXT MariaDB) : un scellement couvre au
#: plus 2048 entrées et 512 trous.
SEAL_TABLE = TableDefinition(
    name=SEAL_TABLE_NAME,
    columns=[
        Column("seq", "big_integer"),
        Column("kind", "string", length=16),
        Column("first_id", "big_integer"),
        Column("last_id", "big_integer"),
        Column("row_count", "big_integer"),
        Column("gaps", "text", nullable=True),
        Column("fingerprints", "text", nullable=True),
        Column("max_created", "string", length=19, nullable=True),
        Column("digest", "string", length=64),
        Column("prev_mac", "string", length=64, nullable=True),
        Column("mode", "string", length=16),
        Column("mac", "string", length=64),
        Column("created_at", "string", length=19),
    ],
    primary_key=["seq"],
)

#: Ordre d'application : création, puis colonnes ajoutées. Un projet neuf joue
#: tout ; un projet qui a déjà la table ne joue que ce qui lui manque.
MIGRATIONS: list[tuple[str, TableDefinition | AddColumn]] = [
    ("20261203100000_create_audit_log.sql", BASE_TABLE),
    (
        "20261203100100_audit_log_request_id.sql",
        AddColumn(TABLE, "request_id", index_names=_ALL_INDEXES),
    ),
    ("20261203100200_audit_log_ip.sql", AddColumn(TABLE, "ip", index_names=())),
    ("20261203100300_create_audit_seal.sql", SEAL_TABLE),
]


def dialect_for(backend: str) -> Dialect:
    """Dialecte du backend nommé, pris dans son opt-in installé.

    Ne résout pas le backend actif et n'ouvre aucune connexion : seule la
    classe du backend est chargée.
    """
    if not isinstance(backend, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise AuditError(f"Le backend se nomme par une chaîne, pas {type(backend).__name__}.")
    if backend not in BACKENDS:
        raise AuditError(
            f"Backend inconnu : {backend[:40]!r}. Backends pris en charge : {', '.join(BACKENDS)}."
        )
    for ep in entry_points(group="forge_mvc.db_backend"):
        if ep.name == backend:
            dialect: Dialect = ep.load().dialect
            return dialect
    raise AuditError(
        f"Le backend {backend!r} n'est pas installé : pip install --pre forge-mvc-{backend}"
    )


def create_table_sql(backend: str = "mariadb") -> str:
    """Le DDL de la table complète pour `backend`, pour une base neuve.

    Pour un projet Forge, préférer `forge audit:init` : il écrit les
    migrations, qui savent aussi faire évoluer une table existante.
    """
    return "\n".join(render_create_table(TABLE, dialect_for(backend))) + "\n"
