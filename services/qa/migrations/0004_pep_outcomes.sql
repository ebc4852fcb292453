-- What each submitted PEP records of the child's attendance and attainment (pep.outcomes.submitted), for the
-- dashboard's summaries: the latest submission's, whatever order the events arrive in (submitted_at).
CREATE TABLE pep_outcomes (
    pep_id            uuid PRIMARY KEY,
    child_id          uuid NOT NULL,
    la_id             uuid NOT NULL,
    attended_sessions integer NOT NULL,
    possible_sessions integer NOT NULL,
    submitted_at      timestamptz NOT NULL
);
CREATE INDEX pep_outcomes_la ON pep_outcomes (la_id);

-- Each subject row of that submission's attainment section.
CREATE TABLE pep_attainment (
    pep_id            uuid NOT NULL REFERENCES pep_outcomes (pep_id) ON DELETE CASCADE,
    row_number        integer NOT NULL,
    subject           text,
    compared_with_are text,
    progress          text,
    PRIMARY KEY (pep_id, row_number)
);
