-- The grade each PEP shows after QA (qa.review.decided), for the signed-off email. The newest event wins.
CREATE TABLE pep_ratings (
    pep_id      uuid PRIMARY KEY,
    grade_label text,
    decided_at  timestamptz NOT NULL
);
