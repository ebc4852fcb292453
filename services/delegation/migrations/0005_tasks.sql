-- Tasks: who must do what on which PEP by when. A task is for a person (assignee_user_id) or for an
-- education setting (its Designated Teacher and the staff the DT lets see the child).
CREATE TABLE tasks (
    id               uuid PRIMARY KEY,
    kind             text NOT NULL CHECK (kind IN ('complete_sections', 'amend', 'finalise')),
    status           text NOT NULL CHECK (status IN ('assigned', 'in_progress', 'submitted', 'retracted', 'returned',
                                                     'completed', 'cancelled')),
    pep_id           uuid NOT NULL,
    child_id         uuid NOT NULL,
    la_id            uuid NOT NULL,
    setting_id       uuid,
    sections         text[] NOT NULL DEFAULT '{}',
    assignee_user_id uuid,
    originator_id    uuid,
    due_date         date,
    note             text,
    feedback         text,
    version          integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (assignee_user_id IS NOT NULL OR setting_id IS NOT NULL)
);
CREATE INDEX tasks_setting ON tasks (setting_id, status, updated_at DESC);
CREATE INDEX tasks_assignee ON tasks (assignee_user_id, status, updated_at DESC) WHERE assignee_user_id IS NOT NULL;
CREATE INDEX tasks_originator ON tasks (originator_id, status, updated_at DESC);
CREATE INDEX tasks_pep ON tasks (pep_id);
-- At most one open task of a kind per PEP: delegating twice is refused, an event delivered twice makes one task.
CREATE UNIQUE INDEX tasks_one_open ON tasks (pep_id, kind) WHERE status IN ('assigned', 'in_progress', 'returned');

-- Every change of a task, with who and why: kept, never changed.
CREATE TABLE task_events (
    id          bigserial PRIMARY KEY,
    task_id     uuid NOT NULL REFERENCES tasks (id),
    action      text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    reason      text,
    by_user     uuid,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_events_task ON task_events (task_id, id);
REVOKE UPDATE, DELETE, TRUNCATE ON task_events FROM epep_delegation;

-- Children as pep announces them (pep.child.changed): who the task is about, where they are, their social worker.
CREATE TABLE children (
    id               uuid PRIMARY KEY,
    la_id            uuid NOT NULL,
    setting_id       uuid,
    social_worker_id uuid,
    given_name       text NOT NULL,
    family_name      text NOT NULL,
    version          integer NOT NULL
);
