-- Issue 19: a review's draft save in one round trip after its read. The caller has read the PEP's submission and
-- its latest review (REVIEW_READ_SQL in services/qa/reviews.py) and checked the ratings against the framework;
-- this takes the review's lock (the one deciding takes), finds the submission as it was read, still open to
-- drafts, and keeps the draft as a new row. Each statement here sees what committed before the lock was granted,
-- so a decision that came first is never followed by a draft. The service's own rights: reviews stay append-only.
-- Raises 'not_yet_known' (qa has no open submission of the PEP), 'decided' (the submission's review is past its
-- drafts) or 'changed' (another submission, meeting date or framework than the caller read).
CREATE FUNCTION save_review_draft(p_pep uuid, p_submitted_at timestamptz, p_meeting_date date, p_framework text,
                                  p_areas jsonb, p_overall text, p_awarded text, p_feedback text, p_by uuid)
RETURNS SETOF reviews LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    v_pep peps;
    v_latest reviews;
    v_row reviews;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('qa-review-' || p_pep::text));
    SELECT * INTO v_pep FROM peps WHERE id = p_pep;
    IF NOT FOUND OR v_pep.status <> 'submitted' OR v_pep.submitted_at IS NULL THEN
        RAISE EXCEPTION 'not_yet_known';
    END IF;
    IF v_pep.submitted_at <> p_submitted_at OR v_pep.meeting_date IS DISTINCT FROM p_meeting_date THEN
        RAISE EXCEPTION 'changed';
    END IF;
    SELECT * INTO v_latest FROM reviews WHERE pep_id = p_pep AND submitted_at = p_submitted_at
        ORDER BY id DESC LIMIT 1;
    IF FOUND AND v_latest.stage <> 'draft' THEN
        RAISE EXCEPTION 'decided';
    END IF;
    IF FOUND AND v_latest.framework_key <> p_framework THEN
        RAISE EXCEPTION 'changed';
    END IF;
    INSERT INTO reviews (pep_id, child_id, la_id, submitted_at, meeting_date, stage, framework_key, areas,
                         overall_grade, awarded_grade, overall_feedback, by_user)
    VALUES (p_pep, v_pep.child_id, v_pep.la_id, v_pep.submitted_at, v_pep.meeting_date, 'draft', p_framework,
            p_areas, p_overall, p_awarded, p_feedback, p_by)
    RETURNING * INTO v_row;
    RETURN NEXT v_row;
END
$$;
