-- Issue 18, prompts: each time a child's PEP clock is about to run out (due_soon), has run out (overdue) and has
-- been overdue for the LA's escalation period (escalated), delegation's prompt scheduler sends one event, which
-- notify turns into emails. One row per child, clock, due date and stage, written in the same transaction as the
-- event: the key makes every other replica's (or a restarted one's, or the next tick's) attempt a no-op, so each
-- prompt goes out once. A clock whose due date moves (a new PEP, a changed rule) is a new key: prompted afresh.
-- Erasing a child (erase_child deletes their children row) takes their prompts with it.
CREATE TABLE clock_prompts (
    child_id uuid NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    clock    text NOT NULL,
    due      date NOT NULL,
    stage    text NOT NULL CHECK (stage IN ('due_soon', 'overdue', 'escalated')),
    la_id    uuid NOT NULL,
    sent_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child_id, clock, due, stage)
);
