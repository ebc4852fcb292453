-- How long each LA keeps a child's records: until the child's Nth birthday. An LA with no row keeps them to
-- the 75th, as care records are kept. The retention job (services/pep/retention.py) erases a child's records
-- once that birthday has passed.
CREATE TABLE retention_rules (
    la_id          uuid PRIMARY KEY,
    keep_until_age integer NOT NULL CHECK (keep_until_age BETWEEN 25 AND 100),
    changed_by     uuid,
    changed_at     timestamptz NOT NULL DEFAULT now()
);

-- Children whose records were erased: the id, the LA and when, nothing personal, so an erasure is done once and
-- can be shown to have happened. Append-only, like the other logs.
CREATE TABLE erased_children (
    child_id          uuid PRIMARY KEY,
    la_id             uuid NOT NULL,
    retention_ended   date NOT NULL,
    erased_at         timestamptz NOT NULL DEFAULT now()
);
REVOKE UPDATE, DELETE, TRUNCATE ON erased_children FROM epep_pep;

-- The one way to remove rows from the append-only tables (access log, notes, histories, file audit): a whole
-- child at once, and only when the child's retention has ended on `today` (the retention job's clock). It runs
-- with the rights of this schema's owner (the migrating admin), so the service role never holds UPDATE or
-- DELETE on those tables and cannot remove single rows. It returns the child's PEPs' ids (NULL when the
-- child is not here, e.g. erased already).
CREATE FUNCTION erase_child(p_child uuid, p_today date) RETURNS uuid[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pep, pg_temp AS $$
DECLARE
    v_born date;
    v_la   uuid;
    v_age  integer;
    v_peps uuid[];
BEGIN
    SELECT date_of_birth, la_id INTO v_born, v_la FROM children WHERE id = p_child FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    v_age := coalesce((SELECT keep_until_age FROM retention_rules WHERE la_id = v_la), 75);
    IF (v_born + make_interval(years => v_age))::date > p_today THEN
        RAISE EXCEPTION 'this child''s records are still within their retention' USING ERRCODE = 'P0001';
    END IF;
    v_peps := ARRAY(SELECT id FROM peps WHERE child_id = p_child);
    DELETE FROM access_log WHERE child_id = p_child;
    DELETE FROM attachment_audit WHERE child_id = p_child;
    DELETE FROM attachment_content WHERE attachment_id IN (SELECT id FROM attachments WHERE child_id = p_child);
    DELETE FROM attachments WHERE child_id = p_child;
    DELETE FROM delegated_sections WHERE pep_id = ANY(v_peps);
    DELETE FROM funding_decisions WHERE child_id = p_child OR pep_id = ANY(v_peps);
    DELETE FROM section_history WHERE pep_id = ANY(v_peps);
    DELETE FROM pep_transitions WHERE pep_id = ANY(v_peps);
    DELETE FROM pep_sections WHERE pep_id = ANY(v_peps);
    UPDATE peps SET previous_pep_id = NULL WHERE previous_pep_id = ANY(v_peps) AND child_id <> p_child;
    DELETE FROM peps WHERE child_id = p_child;
    DELETE FROM child_notes WHERE child_id = p_child;
    DELETE FROM attendance WHERE child_id = p_child;
    DELETE FROM sibling_links WHERE child_id = p_child OR sibling_id = p_child;
    DELETE FROM placement_history WHERE child_id = p_child;
    DELETE FROM setting_history WHERE child_id = p_child;
    DELETE FROM children WHERE id = p_child;
    -- Events already published about the child (names, dates) need not stay in the outbox either.
    DELETE FROM outbox WHERE published_at IS NOT NULL
        AND (envelope -> 'data' ->> 'child_id' = p_child::text OR envelope -> 'data' ->> 'pep_id' = ANY(v_peps::text[]));
    INSERT INTO erased_children (child_id, la_id, retention_ended)
        VALUES (p_child, v_la, (v_born + make_interval(years => v_age))::date);
    RETURN v_peps;
END
$$;
REVOKE ALL ON FUNCTION erase_child(uuid, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_child(uuid, date) TO epep_pep;
