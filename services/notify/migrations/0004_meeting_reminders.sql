-- A meeting's reminder, N days before it: the versions now say whether the meeting was cancelled, and whose child
-- it is and in which LA (older rows have neither, and are never reminded).
ALTER TABLE meeting_versions ADD COLUMN cancelled boolean NOT NULL DEFAULT false;
ALTER TABLE meeting_versions ADD COLUMN child_id uuid;
ALTER TABLE meeting_versions ADD COLUMN la_id uuid;
CREATE INDEX meeting_versions_by_date ON meeting_versions (meeting_date);

-- One reminder per meeting version per address, whichever replica gets there first; written in the same
-- transaction as the notify.meeting_reminder.due event that sends it.
CREATE TABLE meeting_reminders (
    pep_id      uuid NOT NULL,
    sequence    integer NOT NULL,
    recipient   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pep_id, sequence, recipient)
);
