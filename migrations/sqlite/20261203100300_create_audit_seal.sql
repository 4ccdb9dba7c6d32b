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

CREATE TABLE IF NOT EXISTS audit_seal (
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    first_id INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    row_count INTEGER NOT NULL,
    gaps TEXT NULL,
    fingerprints TEXT NULL,
    max_created TEXT NULL,
    digest TEXT NOT NULL,
    prev_mac TEXT NULL,
    mode TEXT NOT NULL,
    mac TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (seq)
);
