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

IF OBJECT_ID(N'audit_log', N'U') IS NULL
CREATE TABLE audit_log (
    id BIGINT IDENTITY(1,1),
    actor NVARCHAR(191) NULL,
    action NVARCHAR(191) NOT NULL,
    target_type NVARCHAR(191) NULL,
    target_id NVARCHAR(191) NULL,
    details NVARCHAR(MAX) NULL,
    created_at DATETIME2 NOT NULL DEFAULT SYSUTCDATETIME(),
    PRIMARY KEY (id)
);
