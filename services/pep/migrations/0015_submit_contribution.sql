-- Issue 22: Submit Contribution is the school's part (Kent). Each part of a PEP (the school's contribution, the
-- social worker's section) is submitted by its writers; the PEP goes to quality assurance once every part the
-- LA's rule waits for is in.

-- When a PEP goes to QA, as the LA's VS admin chose: 'school_submits' (Kent; the default when there is no row) or
-- 'social_worker_completes' (ePEP Online: the social worker's part too).
CREATE TABLE submission_rules (
    la_id      uuid PRIMARY KEY,
    goes_to_qa text NOT NULL CHECK (goes_to_qa IN ('school_submits', 'social_worker_completes')),
    changed_by uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);

-- The parts of a PEP that are in: who submitted each and when (the school's: from which setting). QA returning
-- the PEP takes the school's back out, so its amendment is a new contribution. Erased with the PEP.
CREATE TABLE pep_contributions (
    pep_id       uuid NOT NULL REFERENCES peps (id) ON DELETE CASCADE,
    part         text NOT NULL CHECK (part IN ('school', 'social_worker')),
    setting_id   uuid,
    submitted_by uuid NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (pep_id, part)
);
