-- PEPs as pep announces them (pep.pep.status_changed, pep.meeting.changed), for the caseload trackers:
-- which child has a PEP under way, when its meeting is, and when the last one was finalised.
CREATE TABLE peps (
    id               uuid PRIMARY KEY,
    child_id         uuid NOT NULL,
    la_id            uuid NOT NULL,
    status           text NOT NULL,
    kind             text NOT NULL,
    term             text NOT NULL,
    academic_year    text NOT NULL,
    meeting_date     date,
    status_version   integer NOT NULL DEFAULT 0,
    meeting_sequence integer NOT NULL DEFAULT -1,
    started_at       timestamptz NOT NULL
);
CREATE INDEX peps_child ON peps (child_id);

ALTER TABLE children ADD COLUMN in_care boolean NOT NULL DEFAULT true;
CREATE INDEX children_la ON children (la_id);
CREATE INDEX children_setting ON children (setting_id);
CREATE INDEX children_social_worker ON children (social_worker_id);
