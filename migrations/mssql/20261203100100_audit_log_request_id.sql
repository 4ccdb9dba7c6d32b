-- Migration Forge rendue pour le backend « mssql ».
-- Source : forge_mvc_audit (déclaration : forge_mvc_audit.tables).
--
-- Ce fichier a été GÉNÉRÉ par `forge <opt-in>:init` à partir d'une
-- description de table unique, rendue par le dialecte du backend
-- installé. Relisez-le, puis appliquez-le : forge migration:apply
--
-- Changer de backend en cours de projet suppose de reprovisionner :
-- le SQL rendu diffère, et `migration:apply` refuse une migration
-- déjà appliquée dont le contenu a changé.

ALTER TABLE audit_log ADD request_id NVARCHAR(64) NULL;
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_actor' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_actor ON audit_log (actor, id, created_at);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_actor_created' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_actor_created ON audit_log (actor, created_at, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_action' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_action ON audit_log (action, id, created_at);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_target' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_target ON audit_log (target_id, target_type, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_target_type' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_target_type ON audit_log (target_type, id, created_at);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_created' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_created ON audit_log (created_at, id);
IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = 'idx_audit_log_request' AND object_id = OBJECT_ID('audit_log'))
    CREATE INDEX idx_audit_log_request ON audit_log (request_id, id);
