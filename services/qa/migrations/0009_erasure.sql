-- When a child's retention ends (event pep.child.erased), qa anonymises what it holds about them: the figures
-- stay (grades, amounts, dates, year group), so the Virtual School's past dashboards still add up, but every
-- name and every word anyone wrote goes. The child's id then links to nothing anywhere (pep has erased the
-- record). reviews and funding_decisions are append-only for the service role; this function, run with the
-- schema owner's rights, is the one path that changes them, a whole child at once. Only the erasure consumer
-- (services/qa/erasure.py) calls it.
CREATE FUNCTION anonymise_child(p_child uuid, p_peps uuid[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = qa, pg_temp AS $$
DECLARE
    v_reviews integer;
BEGIN
    UPDATE children SET given_name = 'Erased', family_name = 'record', social_worker_id = NULL WHERE id = p_child;
    UPDATE reviews SET overall_feedback = NULL, reason = NULL, note = NULL,
        areas = coalesce((SELECT jsonb_object_agg(key, CASE WHEN jsonb_typeof(value) = 'object'
                                                            THEN value - 'feedback' ELSE value END)
                          FROM jsonb_each(areas)), '{}')
        WHERE child_id = p_child OR pep_id = ANY(p_peps);
    GET DIAGNOSTICS v_reviews = ROW_COUNT;
    UPDATE funding_decisions SET reason = NULL
        WHERE request_id IN (SELECT id FROM funding_requests WHERE child_id = p_child OR pep_id = ANY(p_peps));
    UPDATE funding_requests SET description = 'Erased at the end of the record''s retention', reason = NULL
        WHERE child_id = p_child OR pep_id = ANY(p_peps);
    DELETE FROM outbox WHERE published_at IS NOT NULL
        AND (envelope -> 'data' ->> 'child_id' = p_child::text OR envelope -> 'data' ->> 'pep_id' = ANY(p_peps::text[]));
    RETURN v_reviews;
END
$$;
REVOKE ALL ON FUNCTION anonymise_child(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION anonymise_child(uuid, uuid[]) TO epep_qa;
