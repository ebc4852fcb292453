-- The facts the PEP clocks count from (issue 18), kept on the child's record and published with pep.child.changed:
-- whether entering care was an emergency placement (the initial PEP's shorter clock), and the latest change of
-- school or placement: the day it starts, which it was and the reason the caseworker gave (the review after a
-- change is due from it).
ALTER TABLE children
    ADD COLUMN entered_care_emergency boolean NOT NULL DEFAULT false,
    ADD COLUMN moved_on               date,
    ADD COLUMN move_kind              text CHECK (move_kind IN ('school', 'placement')),
    ADD COLUMN move_reason            text,
    ADD CONSTRAINT children_move_whole CHECK ((moved_on IS NULL) = (move_kind IS NULL));

-- A change of school or placement keeps, with what changed, the day it starts and why.
ALTER TABLE placement_history ADD COLUMN starts_on date, ADD COLUMN reason text;
ALTER TABLE setting_history ADD COLUMN starts_on date, ADD COLUMN reason text;

-- identity's LAs and education settings as pep last heard of them (identity.organisation.changed): a child is
-- moved only to a setting in their own LA, and the record names the settings.
CREATE TABLE organisations (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    organisation_type text NOT NULL,
    la_id             uuid,
    changed_at        timestamptz NOT NULL
);
CREATE INDEX organisations_la ON organisations (la_id);
