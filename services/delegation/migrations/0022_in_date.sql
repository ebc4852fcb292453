-- The "in date" figure per QA caseworker (services/delegation/in_date.py): who reviewed each PEP at the first
-- level of QA, from qa.review.decided. Only the newest review event of a PEP counts (review_id rises with every
-- review row qa keeps), so one arriving late never names an earlier reviewer. A second level (an approver
-- confirming) is not the caseworker, and is not kept here.
CREATE TABLE pep_caseworkers (
    pep_id        uuid PRIMARY KEY,
    child_id      uuid NOT NULL,
    la_id         uuid NOT NULL,
    review_id     bigint NOT NULL,
    caseworker_id uuid NOT NULL
);
CREATE INDEX pep_caseworkers_child ON pep_caseworkers (child_id);
