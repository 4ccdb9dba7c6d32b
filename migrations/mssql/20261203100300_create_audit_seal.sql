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

IF OBJECT_ID(N'audit_seal', N'U') IS NULL
CREATE TABLE audit_seal (
    seq BIGINT NOT NULL,
    kind NVARCHAR(16) NOT NULL,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    gaps NVARCHAR(MAX) NULL,
    fingerprints NVARCHAR(MAX) NULL,
    max_created NVARCHAR(19) NULL,
    digest NVARCHAR(64) NOT NULL,
    prev_mac NVARCHAR(64) NULL,
    mode NVARCHAR(16) NOT NULL,
    mac NVARCHAR(64) NOT NULL,
    created_at NVARCHAR(19) NOT NULL,
    PRIMARY KEY (seq)
);
