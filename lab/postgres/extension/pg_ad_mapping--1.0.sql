-- The lab's pg_ad_mapping extension, installed only by CREATE EXTENSION pg_ad_mapping (AWS_FACTS.md
-- section 6): the functions AWS documents, with their names, arguments and columns; the mappings live
-- in a table of the extension. See lab/README.md for what the lab does with them at login.
\echo Use "CREATE EXTENSION pg_ad_mapping" to load this file. \quit

-- As on Aurora, the library must be preloaded first: pg_ad_mapping in the cluster parameter group's
-- shared_preload_libraries, then a reboot of the writer (the message is the lab's own [inferred]).
DO $preload$
BEGIN
    IF NOT 'pg_ad_mapping' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ',')) THEN
        RAISE EXCEPTION 'pg_ad_mapping must be loaded via shared_preload_libraries'
            USING HINT = 'Add pg_ad_mapping to shared_preload_libraries in the DB cluster parameter group, then reboot the writer instance.';
    END IF;
END
$preload$;

CREATE SCHEMA pgadmap_lab;
REVOKE ALL ON SCHEMA pgadmap_lab FROM PUBLIC;

CREATE TABLE pgadmap_lab.mappings (
    ad_sid  text    NOT NULL CHECK (ad_sid ~ '^S-1-[0-9]+(-[0-9]+)+$'),
    pg_role text    NOT NULL,
    weight  integer NOT NULL,
    ad_grp  text    NOT NULL,
    PRIMARY KEY (ad_sid, pg_role)
);

CREATE FUNCTION pgadmap_set_mapping(ad_group text, db_role text, ad_group_sid text, weight integer)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgadmap_lab AS $$
BEGIN
    IF $1 IS NULL OR $2 IS NULL OR $3 IS NULL OR $4 IS NULL THEN
        RAISE EXCEPTION 'pgadmap_set_mapping: every argument is required';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = $2) THEN
        RAISE EXCEPTION 'role "%" does not exist', $2;
    END IF;
    IF EXISTS (SELECT FROM pgadmap_lab.mappings m WHERE m.ad_sid = $3 AND m.pg_role = $2) THEN
        RAISE EXCEPTION 'a mapping of % to role "%" already exists: mappings cannot be edited, reset it first', $3, $2;
    END IF;
    INSERT INTO pgadmap_lab.mappings (ad_sid, pg_role, weight, ad_grp) VALUES ($3, $2, $4, $1);
END $$;

CREATE FUNCTION pgadmap_read_mapping()
RETURNS TABLE (ad_sid text, pg_role text, weight integer, ad_grp text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pgadmap_lab AS $$
    SELECT m.ad_sid, m.pg_role, m.weight, m.ad_grp FROM pgadmap_lab.mappings m ORDER BY m.ad_sid, m.pg_role
$$;

-- No arguments resets every mapping; otherwise the one of that SID, role and weight.
CREATE FUNCTION pgadmap_reset_mapping(ad_sid text DEFAULT NULL, db_role text DEFAULT NULL, weight integer DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pgadmap_lab AS $$
BEGIN
    IF $1 IS NULL AND $2 IS NULL AND $3 IS NULL THEN
        DELETE FROM pgadmap_lab.mappings;
    ELSIF $1 IS NULL OR $2 IS NULL OR $3 IS NULL THEN
        RAISE EXCEPTION 'pgadmap_reset_mapping: give the SID, the role and the weight, or nothing to reset all';
    ELSE
        DELETE FROM pgadmap_lab.mappings m WHERE m.ad_sid = $1 AND m.pg_role = $2 AND m.weight = $3;
    END IF;
END $$;

-- Only rds_superuser members (the master user) manage mappings.
REVOKE ALL ON FUNCTION pgadmap_set_mapping(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION pgadmap_read_mapping() FROM PUBLIC;
REVOKE ALL ON FUNCTION pgadmap_reset_mapping(text, text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgadmap_set_mapping(text, text, text, integer) TO rds_superuser;
GRANT EXECUTE ON FUNCTION pgadmap_read_mapping() TO rds_superuser;
GRANT EXECUTE ON FUNCTION pgadmap_reset_mapping(text, text, integer) TO rds_superuser;
