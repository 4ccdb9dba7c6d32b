-- Migration Forge rendue pour le backend « postgres ».
-- Source : forge_mvc_audit (déclaration : forge_mvc_audit.tables).
--
-- Ce fichier a été GÉNÉRÉ par `forge <opt-in>:init` à partir d'une
-- description de table unique, rendue par le dialecte du backend
-- installé. Relisez-le, puis appliquez-le : forge migration:apply
--
-- Changer de backend en cours de projet suppose de reprovisionner :
-- le SQL rendu diffère, et `migration:apply` refuse une migration
-- déjà appliquée dont le contenu a changé.

CREATE TABLE IF NOT EXISTS audit_seal (
    seq BIGINT NOT NULL,
    kind VARCHAR(16) NOT NULL,
    first_id BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    gaps TEXT NULL,
    fingerprints TEXT NULL,
    max_created VARCHAR(19) NULL,
    digest VARCHAR(64) NOT NULL,
    prev_mac VARCHAR(64) NULL,
    mode VARCHAR(16) NOT NULL,
    mac VARCHAR(64) NOT NULL,
    created_at VARCHAR(19) NOT NULL,
    PRIMARY KEY (seq)
);
