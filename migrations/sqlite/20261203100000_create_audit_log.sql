-- Migration Forge rendue pour le backend « sqlite ».
-- Source : forge_mvc_audit (déclaration : forge_mvc_audit.tables).
--
-- Ce fichier a été GÉNÉRÉ par `forge <opt-in>:init` à partir d'une
-- description de table unique, rendue par le dialecte du backend
-- installé. Relisez-le, puis appliquez-le : forge migration:apply
--
-- Changer de backend en cours de projet suppose de reprovisionner :
-- le SQL rendu diffère, et `migration:apply` refuse une migration
-- déjà appliquée dont le contenu a changé.

CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor TEXT NULL,
    action TEXT NOT NULL,
    target_type TEXT NULL,
    target_id TEXT NULL,
    details TEXT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
