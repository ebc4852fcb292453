-- Two-level QA (qa.review.decided, outcome 'reviewed'): a "Second QA review" task for the LA's Virtual School
-- approvers, for a role at the LA like the approver's funding task (assignee_role, 0012).
ALTER TABLE tasks DROP CONSTRAINT tasks_kind_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_kind_check
    CHECK (kind IN ('complete_sections', 'amend', 'finalise', 'approve_funding', 'second_review'));

-- qa's reviews as far as delegation needs them: the newest review event per PEP (review_id rises with each), so an
-- older event arriving late never opens a task that a newer decision has already closed.
CREATE TABLE qa_reviews (
    pep_id    uuid PRIMARY KEY,
    review_id bigint NOT NULL,
    outcome   text NOT NULL
);
