-- Case notes on a child's record: appended, never changed or deleted (a correction is a new note), so the
-- record of who knew what, when, stands.
CREATE TABLE child_notes (
    id         uuid PRIMARY KEY,
    child_id   uuid NOT NULL REFERENCES children (id),
    la_id      uuid NOT NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 5000),
    written_by uuid NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX child_notes_child ON child_notes (child_id, written_at DESC);
REVOKE UPDATE, DELETE, TRUNCATE ON child_notes FROM epep_pep;

-- qa's decisions on the funding a PEP's targets asked for (event qa.funding.decided), kept so a child's
-- profile can show the Pupil Premium Plus agreed this academic year. One row per PEP target: the latest
-- decision wins, an older event never overwrites a newer one.
CREATE TABLE funding_decisions (
    pep_id        uuid NOT NULL,
    target        integer NOT NULL CHECK (target >= 1),
    child_id      uuid NOT NULL REFERENCES children (id),
    la_id         uuid NOT NULL,
    academic_year text NOT NULL,
    decision      text NOT NULL CHECK (decision IN ('approved', 'refused', 'more_information')),
    amount        numeric(10, 2) CHECK (amount >= 0),
    decided_at    timestamptz NOT NULL,
    PRIMARY KEY (pep_id, target)
);
CREATE INDEX funding_decisions_child ON funding_decisions (child_id, academic_year);

CREATE INDEX section_history_pep ON section_history (pep_id, saved_at DESC);
CREATE INDEX pep_transitions_pep ON pep_transitions (pep_id, at DESC);
CREATE INDEX attachment_audit_child ON attachment_audit (child_id, at DESC);
