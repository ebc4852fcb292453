-- PEPs that were delegated on schedule (the next termly PEP, to the same school sections as last time): one row
-- per PEP, written with the task, so it happens once whatever the number of replicas.
CREATE TABLE scheduled_delegations (
    pep_id     uuid PRIMARY KEY,
    task_id    uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
