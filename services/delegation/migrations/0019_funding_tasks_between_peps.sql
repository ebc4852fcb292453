-- A target raised between PEPs asking for the Virtual School's PP+ (issue 22, item 7: "the same funding route")
-- gives the approvers an "Approve funding" task as a PEP's target does: a task about the child and that target
-- (action_target_id), with no PEP. Only such a task has no PEP. Its request is kept by the target, not a PEP's row.
ALTER TABLE tasks ALTER COLUMN pep_id DROP NOT NULL;
ALTER TABLE tasks ADD COLUMN action_target_id uuid;
ALTER TABLE tasks ADD CONSTRAINT tasks_about_check
    CHECK (pep_id IS NOT NULL OR (kind = 'approve_funding' AND action_target_id IS NOT NULL));
CREATE UNIQUE INDEX tasks_one_open_target ON tasks (action_target_id, kind)
    WHERE action_target_id IS NOT NULL AND status IN ('assigned', 'in_progress', 'returned');

ALTER TABLE funding_requests DROP CONSTRAINT funding_requests_pkey;
ALTER TABLE funding_requests ALTER COLUMN pep_id DROP NOT NULL;
ALTER TABLE funding_requests ADD COLUMN action_target_id uuid;
ALTER TABLE funding_requests ADD CONSTRAINT funding_requests_pep_target UNIQUE (pep_id, target);
ALTER TABLE funding_requests ADD CONSTRAINT funding_requests_about_check
    CHECK (pep_id IS NOT NULL OR action_target_id IS NOT NULL);
CREATE UNIQUE INDEX funding_requests_action_target ON funding_requests (action_target_id)
    WHERE action_target_id IS NOT NULL;
