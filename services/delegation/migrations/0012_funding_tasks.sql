-- The approver's "Approve funding" task (issue 22, Kent's VSK Approval): a PEP whose targets ask for Virtual School
-- PP+ gives the LA's approvers a task, due by the LA's approval rule, reminded like any task, and completed when
-- every request of the PEP is decided. It is for a role at the LA (assignee_role), not for one person or setting.
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
    CHECK (kind IN ('complete_sections', 'amend', 'finalise', 'approve_funding'));
ALTER TABLE tasks ADD COLUMN assignee_role text CHECK (assignee_role IN ('vs_approver'));
ALTER TABLE tasks DROP CONSTRAINT tasks_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_assignee_check
    CHECK (assignee_user_id IS NOT NULL OR setting_id IS NOT NULL OR assignee_role IS NOT NULL);
CREATE INDEX tasks_role ON tasks (la_id, assignee_role) WHERE assignee_role IS NOT NULL;

-- PP+ requests as pep asks (pep.funding.requested) and qa decides them (qa.funding.decided): what the approver's
-- task names (the target, the amount) and whether any is still waiting. Events may arrive out of order: a request
-- waits again only when it was asked after the last decision.
CREATE TABLE funding_requests (
    pep_id        uuid NOT NULL,
    target        integer NOT NULL CHECK (target >= 1),
    child_id      uuid NOT NULL,
    la_id         uuid NOT NULL,
    what          text NOT NULL,
    amount        numeric(10, 2),
    funding_type  text,
    requested_at  timestamptz NOT NULL,
    decision      text CHECK (decision IN ('approved', 'refused', 'more_information')),
    decided_at    timestamptz,
    PRIMARY KEY (pep_id, target)
);
CREATE INDEX funding_requests_child ON funding_requests (child_id);

-- Erasing a child erases their funding requests too (the rest as 0011).
CREATE OR REPLACE FUNCTION erase_child(p_child uuid, p_peps uuid[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = delegation, pg_temp AS $$
DECLARE
    v_tasks uuid[];
BEGIN
    v_tasks := ARRAY(SELECT id FROM tasks WHERE child_id = p_child OR pep_id = ANY(p_peps));
    DELETE FROM task_events WHERE task_id = ANY(v_tasks);
    DELETE FROM reminders WHERE task_id = ANY(v_tasks);
    DELETE FROM scheduled_delegations WHERE pep_id = ANY(p_peps);
    DELETE FROM tasks WHERE id = ANY(v_tasks);
    DELETE FROM funding_requests WHERE child_id = p_child OR pep_id = ANY(p_peps);
    DELETE FROM peps WHERE child_id = p_child OR id = ANY(p_peps);
    DELETE FROM children WHERE id = p_child;
    DELETE FROM outbox WHERE published_at IS NOT NULL
        AND (envelope -> 'data' ->> 'child_id' = p_child::text OR envelope -> 'data' ->> 'pep_id' = ANY(p_peps::text[]));
    RETURN cardinality(v_tasks);
END
$$;
