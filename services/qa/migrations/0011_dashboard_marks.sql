-- A version per LA, raised in the same transaction as any change to what that LA's dashboard is counted from,
-- so a dashboard counted earlier can be served again, exactly, while nothing it counts has changed: read in the
-- dashboard's snapshot, the version tells whether that snapshot holds any change since (the row is updated,
-- not appended, so a change that commits late cannot hide behind a later one). Statement-level triggers with
-- transition tables: a bulk load or a replay raises each LA's version once per statement, not once per row.
-- People's names (the social worker and caseworker pickers) have one version for every LA. The functions keep
-- the migration's search_path (qa's schema), so a change made from any session raises the version.
CREATE TABLE dashboard_marks (
    la_id   uuid PRIMARY KEY,  -- the nil uuid: people's names, for every LA
    version bigint NOT NULL DEFAULT 1
);

CREATE FUNCTION dashboard_mark() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    -- Rows in la_id order, so two transactions raising several LAs lock them in the same order.
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO dashboard_marks AS m (la_id)
        SELECT la_id FROM (SELECT la_id FROM changed UNION SELECT la_id FROM previous) AS x ORDER BY la_id
        ON CONFLICT (la_id) DO UPDATE SET version = m.version + 1;
    ELSE
        INSERT INTO dashboard_marks AS m (la_id)
        SELECT DISTINCT la_id FROM changed ORDER BY la_id
        ON CONFLICT (la_id) DO UPDATE SET version = m.version + 1;
    END IF;
    RETURN NULL;
END $$;

-- pep_attainment has no la_id: its PEP's.
CREATE FUNCTION dashboard_mark_by_pep() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO dashboard_marks AS m (la_id)
    SELECT DISTINCT p.la_id FROM changed c JOIN peps p ON p.id = c.pep_id ORDER BY p.la_id
    ON CONFLICT (la_id) DO UPDATE SET version = m.version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION dashboard_mark_people() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO dashboard_marks AS m (la_id) VALUES ('00000000-0000-0000-0000-000000000000')
    ON CONFLICT (la_id) DO UPDATE SET version = m.version + 1;
    RETURN NULL;
END $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['children', 'peps', 'reviews', 'funding_requests', 'pep_tasks', 'termly_payments',
                             'pep_outcomes'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %I REFERENCING NEW TABLE AS changed '
                       'FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark()', t || '_mark_insert', t);
        EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %I REFERENCING NEW TABLE AS changed OLD TABLE AS previous '
                       'FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark()', t || '_mark_update', t);
        EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %I REFERENCING OLD TABLE AS changed '
                       'FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark()', t || '_mark_delete', t);
    END LOOP;
END $$;

CREATE TRIGGER pep_attainment_mark_insert AFTER INSERT ON pep_attainment REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark_by_pep();
CREATE TRIGGER pep_attainment_mark_update AFTER UPDATE ON pep_attainment REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark_by_pep();
CREATE TRIGGER pep_attainment_mark_delete AFTER DELETE ON pep_attainment REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark_by_pep();
CREATE TRIGGER users_mark AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark_people();
