# pyright: strict
"""forge-mvc-audit : le journal d'audit applicatif des projets Forge.

Qui a fait quoi, sur quel objet, et quand : `record_audit` écrit une entrée,
`get_audit_log` les relit. Un audit applicatif, pas un SIEM.
"""

from __future__ import annotations

from forge_mvc_audit.bulk import record_audit_many
from forge_mvc_audit.context import AuditContext, audit_context, current_audit_context
from forge_mvc_audit.denials import (
    DENIAL_ACTION,
    DENIAL_TARGET_TYPE,
    audit_permission_denials,
    denial_details,
    permission_denials_audited,
    reset_denial_bridge,
)
from forge_mvc_audit.details import audit_changes, max_details_bytes, set_max_details_bytes
from forge_mvc_audit.entry import AuditEntry
from forge_mvc_audit.errors import AuditError
from forge_mvc_audit.export import (
    AUDIT_EXPORT_COLUMNS,
    DEFAULT_BATCH_SIZE,
    EXPORT_FORMATS,
    entry_to_row,
    iter_audit_rows,
    write_audit_export,
)
from forge_mvc_audit.redaction import (
    REDACTED,
    add_redacted_keys,
    redacted_keys,
    reset_redacted_keys,
)
from forge_mvc_audit.request import record_request_audit, request_audit_context
from forge_mvc_audit.retention import count_audit_before, cutoff_for_days, purge_audit_before
from forge_mvc_audit.seal import SealResult, seal_audit_log
from forge_mvc_audit.store import MAX_LIMIT, count_audit, get_audit_log, record_audit
from forge_mvc_audit.tables import TABLE_NAME, create_table_sql
from forge_mvc_audit.verify import VerifyReport, verify_audit_log
from forge_mvc_audit.web import register_audit_routes

__version__ = "1.1.0.dev0"

#: DDL de la table complète, écrit pour **MariaDB** (le dialecte de la version
#: publiée). Pour un autre backend : `create_table_sql("sqlite" | "postgres" |
#: "mariadb" | "mssql")` ; dans un projet Forge : `forge audit:init`.
CREATE_TABLE_SQL = """\
CREATE TABLE IF NOT EXISTS audit_log (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    actor VARCHAR(191) NULL,
    action VARCHAR(191) NOT NULL,
    target_type VARCHAR(191) NULL,
    target_id VARCHAR(191) NULL,
    details TEXT NULL,
    created_at DATETIME NOT NULL DEFAULT UTC_TIMESTAMP,
    request_id VARCHAR(64) NULL,
    ip VARCHAR(45) NULL,
    PRIMARY KEY (id),
    INDEX idx_audit_log_actor (actor, id, created_at),
    INDEX idx_audit_log_actor_created (actor, created_at, id),
    INDEX idx_audit_log_action (action, id, created_at),
    INDEX idx_audit_log_target (target_id, target_type, id),
    INDEX idx_audit_log_target_type (target_type, id, created_at),
    INDEX idx_audit_log_created (created_at, id),
    INDEX idx_audit_log_request (request_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
"""

__all__ = [
    "AUDIT_EXPORT_COLUMNS",
    "CREATE_TABLE_SQL",
    "DEFAULT_BATCH_SIZE",
    "DENIAL_ACTION",
    "DENIAL_TARGET_TYPE",
    "EXPORT_FORMATS",
    "MAX_LIMIT",
    "REDACTED",
    "TABLE_NAME",
    "AuditContext",
    "AuditEntry",
    "AuditError",
    "SealResult",
    "VerifyReport",
    "add_redacted_keys",
    "audit_changes",
    "audit_context",
    "audit_permission_denials",
    "count_audit",
    "count_audit_before",
    "create_table_sql",
    "current_audit_context",
    "cutoff_for_days",
    "denial_details",
    "entry_to_row",
    "get_audit_log",
    "iter_audit_rows",
    "max_details_bytes",
    "permission_denials_audited",
    "purge_audit_before",
    "record_audit",
    "record_audit_many",
    "record_request_audit",
    "redacted_keys",
    "register_audit_routes",
    "request_audit_context",
    "reset_denial_bridge",
    "reset_redacted_keys",
    "seal_audit_log",
    "set_max_details_bytes",
    "verify_audit_log",
    "write_audit_export",
]
