-- Issue 22, "Money adds up" and "Action plan and targets outside a PEP".

-- A PP+ request may come from a target raised between PEPs (pep's action_targets): no PEP, its own id.
ALTER TABLE funding_requests ALTER COLUMN pep_id DROP NOT NULL;
ALTER TABLE funding_requests ADD COLUMN action_target_id uuid UNIQUE;
ALTER TABLE funding_requests ADD CONSTRAINT funding_requests_from_pep_or_target
    CHECK (pep_id IS NOT NULL OR action_target_id IS NOT NULL);

-- A termly payment never pays past what is left of the child's allocation for the financial year: `amount` is
-- what was paid (possibly less than the LA's termly payment, or nothing), `amount_due` the termly payment it
-- stood for. Rows paid before this migration paid it in full.
ALTER TABLE termly_payments ADD COLUMN amount_due numeric(10, 2);
UPDATE termly_payments SET amount_due = amount;
ALTER TABLE termly_payments ALTER COLUMN amount_due SET NOT NULL;
ALTER TABLE termly_payments ADD CONSTRAINT termly_payments_within_due CHECK (amount >= 0 AND amount <= amount_due);
CREATE INDEX termly_payments_child ON termly_payments (child_id, financial_year);
CREATE INDEX funding_requests_child_year ON funding_requests (child_id, financial_year) WHERE status = 'approved';
