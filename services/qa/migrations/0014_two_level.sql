-- Two-level QA where the LA asks for it (Welfare Call: the caseworker within 10 working days, then the VS Head;
-- Kent: the ESO, then the AH). With it on, a first reviewer's approval is kept as stage 'reviewed': the PEP stays
-- submitted until a VS approver or administrator decides it (approves, perhaps with another grade, or returns it).
ALTER TABLE la_settings ADD COLUMN two_level boolean NOT NULL DEFAULT false;

ALTER TABLE reviews DROP CONSTRAINT reviews_stage_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_stage_check
    CHECK (stage IN ('draft', 'reviewed', 'decided', 'confirmed'));
