-- Reminders sent: one row per task, rule and occurrence. The row and the event that sends the reminder are
-- written in one transaction, and the key makes a second replica's (or a restarted one's) attempt a no-op:
-- each reminder goes out once, never twice, never not at all.
CREATE TABLE reminders (
    task_id    uuid NOT NULL REFERENCES tasks (id),
    rule       text NOT NULL CHECK (rule IN ('due_soon', 'due_today', 'overdue', 'escalated')),
    occurrence date NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, rule, occurrence)
);
CREATE INDEX tasks_open_due ON tasks (due_date) WHERE status IN ('assigned', 'in_progress', 'returned');
