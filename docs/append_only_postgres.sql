-- forge-mvc-audit : journal en ajout seul sur PostgreSQL (facultatif, conseillé).
--
-- Refuse UPDATE, DELETE et TRUNCATE sur audit_log et audit_seal, sauf les
-- DELETE de la purge (`forge audit:gc --run`, `purge_audit_before`), qui
-- posent dans leur transaction le réglage local forge_audit.purge = 'on'.
-- Ce réglage n'est pas un secret : le déclencheur protège d'une erreur de
-- l'application ou d'un outil, pas d'un administrateur décidé. Contre
-- celui-ci, ce sont les droits (GRANT) et les scellements qui tiennent.
--
-- À appliquer par le propriétaire des tables, après forge migration:apply.

CREATE OR REPLACE FUNCTION forge_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_log'
       AND current_setting('forge_audit.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'forge-mvc-audit : % refusé sur % (journal en ajout seul)',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION forge_audit_append_only();

DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION forge_audit_append_only();

DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_seal;
CREATE TRIGGER audit_seal_append_only
    BEFORE UPDATE OR DELETE ON audit_seal
    FOR EACH ROW EXECUTE FUNCTION forge_audit_append_only();

DROP TRIGGER IF EXISTS audit_seal_no_truncate ON audit_seal;
CREATE TRIGGER audit_seal_no_truncate
    BEFORE TRUNCATE ON audit_seal
    FOR EACH STATEMENT EXECUTE FUNCTION forge_audit_append_only();
