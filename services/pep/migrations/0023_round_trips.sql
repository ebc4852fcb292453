-- Issue 19: one round trip for a read, two for a save. A save decides in Python (who may write, what is delegated,
-- whose part is in) on what one read gathered, then writes in one statement; `pep_facts` is how that statement knows
-- the facts the decision rested on still hold. It fingerprints them and decides nothing: the PEP's status and child,
-- how the child is reached (LA, setting, social worker, IRO, carers), the sections delegated now and the parts in.
-- VOLATILE (the default), so called from a statement that has just locked the PEP it sees what is committed now.
CREATE FUNCTION pep_facts(p_pep uuid) RETURNS text
LANGUAGE sql SET search_path = pep, pg_temp AS $$
    SELECT md5(row(p.status, p.child_id, c.la_id, c.setting_id, c.social_worker_id, c.iro_id, c.carer_ids,
                   array(SELECT DISTINCT k FROM delegated_sections d, unnest(d.sections) k
                         WHERE d.pep_id = p.id AND d.open ORDER BY k),
                   array(SELECT part FROM pep_contributions WHERE pep_id = p.id ORDER BY part))::text)
    FROM peps p LEFT JOIN children c ON c.id = p.child_id WHERE p.id = p_pep
$$;
