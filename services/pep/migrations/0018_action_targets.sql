-- Issue 22: targets raised between PEPs (Kent's "Action Plan and Targets outside of PEP"), and the money a
-- child's profile counts, the same way qa counts it (approved requests at the approved amount and the automatic
-- termly payments, in the financial year).

-- A costed target the child's Designated Teacher, social worker or Virtual School raises between PEPs, with its PP+
-- request. qa decides it through the same queue as a PEP's targets (pep.funding.requested without a pep_id); its
-- decision comes back here (qa.funding.decided with action_target_id). The next PEP started for the child lists it
-- among its previous targets: `carried_into` is that PEP.
CREATE TABLE action_targets (
    id                uuid PRIMARY KEY,
    child_id          uuid NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    la_id             uuid NOT NULL,
    setting_id        uuid,
    what              text NOT NULL CHECK (length(what) BETWEEN 1 AND 2000),
    by_when           date NOT NULL,
    how               text NOT NULL CHECK (length(how) BETWEEN 1 AND 2000),
    funding_type      text NOT NULL,
    amount            numeric(10, 2) NOT NULL CHECK (amount > 0),
    area_of_focus     text NOT NULL,
    intervention_type text NOT NULL,
    academic_year     text NOT NULL,
    term              text NOT NULL,
    raised_by         uuid NOT NULL,
    raised_at         timestamptz NOT NULL DEFAULT now(),
    decision          text CHECK (decision IN ('approved', 'refused', 'more_information')),
    amount_approved   numeric(10, 2) CHECK (amount_approved >= 0),
    decision_reason   text,
    decided_at        timestamptz,
    financial_year    text,
    carried_into      uuid REFERENCES peps (id) ON DELETE SET NULL
);
CREATE INDEX action_targets_child ON action_targets (child_id, raised_at DESC);

-- The financial year a decision's amount counts in, as qa says (NULL for decisions heard before: their date's).
ALTER TABLE funding_decisions ADD COLUMN financial_year text;

-- qa's automatic termly payments to the child (qa.termly_payment.made), counted in the child's PP+ agreed.
CREATE TABLE termly_payments (
    id             uuid PRIMARY KEY,
    child_id       uuid NOT NULL REFERENCES children (id) ON DELETE CASCADE,
    la_id          uuid NOT NULL,
    pep_id         uuid,
    academic_year  text NOT NULL,
    term           text NOT NULL,
    amount         numeric(10, 2) NOT NULL CHECK (amount >= 0),
    amount_due     numeric(10, 2) NOT NULL,
    financial_year text NOT NULL,
    paid_at        timestamptz NOT NULL
);
CREATE INDEX termly_payments_child ON termly_payments (child_id, financial_year);
