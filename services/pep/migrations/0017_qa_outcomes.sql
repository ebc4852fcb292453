-- The Full PEP carries its QA (Welfare Call): the latest review qa announced for each PEP (qa.review.decided), in
-- the LA framework's words: each area's rating and feedback, the overall rating (Gold where awarded) and feedback.
-- The newest review wins (qa numbers its review rows); erased with the PEP.
CREATE TABLE qa_outcomes (
    pep_id           uuid PRIMARY KEY REFERENCES peps (id) ON DELETE CASCADE,
    child_id         uuid NOT NULL,
    review_id        bigint NOT NULL,
    outcome          text NOT NULL,
    level            smallint NOT NULL DEFAULT 1,
    framework_name   text,
    grade            text,
    grade_label      text,
    overall_grade    text,
    overall_label    text,
    overall_feedback text,
    areas            jsonb NOT NULL DEFAULT '[]',
    reason           text,
    submitted_at     timestamptz,
    decided_at       timestamptz NOT NULL
);
CREATE INDEX qa_outcomes_child ON qa_outcomes (child_id);
