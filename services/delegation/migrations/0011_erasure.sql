-- When a child's retention ends (event pep.child.erased), delegation erases its tasks, their history and
-- reminders, and its read models of the child and their PEPs. task_events is append-only for the service
-- role; this function, run with the schema owner's rights, is the one path that removes its rows, and only a
-- whole child's at once. Only the erasure consumer (services/delegation/erasure.py) calls it.
CREATE FUNCTION erase_child(p_child uuid, p_peps uuid[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = delegation, pg_temp AS $$
DECLARE
    v_tasks uuid[];
BEGIN
    v_tasks := ARRAY(SELECT id FROM tasks WHERE child_id = p_child OR pep_id = ANY(p_peps));
    DELETE FROM task_events WHERE task_id = ANY(v_tasks);
    DELETE FROM reminders WHERE task_id = ANY(v_tasks);
    DELETE FROM scheduled_delegations WHERE pep_id = ANY(p_peps);
    DELETE FROM tasks WHERE id = ANY(v_tasks);
    DELETE FROM peps WHERE child_id = p_child OR id = ANY(p_peps);
    DELETE FROM children WHERE id = p_child;
    DELETE FROM outbox WHERE published_at IS NOT NULL
        AND (envelope -> 'data' ->> 'child_id' = p_child::text OR envelope -> 'data' ->> 'pep_id' = ANY(p_peps::text[]));
    RETURN cardinality(v_tasks);
END
$$;
REVOKE ALL ON FUNCTION erase_child(uuid, uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erase_child(uuid, uuid[]) TO epep_delegation;
