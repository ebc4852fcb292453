-- A QA decision is kept before pep is asked to take it (services/qa/reviews.py, `_decide`): the request records
-- here everything the decision needs, commits, asks pep to approve or return the PEP, then writes the decided
-- review and its event and removes the row, in one transaction. A qa process that dies between pep's yes and that
-- commit leaves the row: pep's status event (PEP approved or returned by QA's action, by the reviewer) finds it and
-- writes the decision in the consumer's transaction. pep refusing removes the row; pep unreachable leaves it, and
-- only pep's event for that action and reviewer, or a later decision, ever uses or replaces it.
CREATE TABLE pending_decisions (
    id            bigserial PRIMARY KEY,
    pep_id        uuid NOT NULL,
    submitted_at  timestamptz NOT NULL,    -- the submission decided
    review_id     bigint NOT NULL REFERENCES reviews (id),  -- the review row decided on (a draft, or the first level's)
    outcome       text NOT NULL CHECK (outcome IN ('approve', 'return')),
    reason        text,
    note          text,
    overall_grade text,                    -- the overall grade decided with (the second level may change it)
    level         smallint NOT NULL CHECK (level IN (1, 2)),
    by_user       uuid NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_decisions_pep ON pending_decisions (pep_id, id);
