-- Issue 18: the PEP clocks (services/delegation/domain/clocks.py) count from facts pep owns and announces in
-- pep.child.changed: the child's date of birth (Post-16 reviews from the 16th birthday), the date they entered
-- care and whether by emergency placement (the initial PEP), and the latest change of school or placement (the
-- review after a change). The rows fill in with each child's next event.
ALTER TABLE children ADD COLUMN date_of_birth date;
ALTER TABLE children ADD COLUMN date_entered_care date;
ALTER TABLE children ADD COLUMN entered_care_emergency boolean NOT NULL DEFAULT false;
ALTER TABLE children ADD COLUMN moved_on date;
ALTER TABLE children ADD COLUMN move_kind text;

-- The QA clock counts from the PEP's submission: the UK date of its latest move to 'submitted' (from the event's
-- occurred_at); status_on is the UK date of its latest status change (when QA returned or approved it).
ALTER TABLE peps ADD COLUMN submitted_on date;
ALTER TABLE peps ADD COLUMN status_on date;
