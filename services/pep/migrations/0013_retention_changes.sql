-- Every change of an LA's retention age, kept as the audit trail: who proposed it and who confirmed it, the old
-- and new age, when, and from which day it takes effect. An increase applies at once (applied_at set as it is
-- made). A reduction waits: the retention job applies it to retention_rules (the age in effect, the only one the
-- job and erase_child read) once a second VS admin has confirmed it and takes_effect_on has come (30 days after
-- it was proposed). A newer change supersedes a reduction still waiting. Rows are never deleted, and the service
-- role may only fill in the confirmation, the application and the superseding.
CREATE TABLE retention_changes (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    la_id            uuid NOT NULL,
    previous_age     integer NOT NULL,
    keep_until_age   integer NOT NULL CHECK (keep_until_age BETWEEN 25 AND 100),
    proposed_by      uuid NOT NULL,
    proposed_at      timestamptz NOT NULL DEFAULT now(),
    takes_effect_on  date NOT NULL,
    confirmed_by     uuid,
    confirmed_at     timestamptz,
    applied_at       timestamptz,
    superseded_at    timestamptz,
    CHECK (confirmed_by IS NULL OR confirmed_by <> proposed_by)
);
CREATE INDEX retention_changes_waiting ON retention_changes (la_id)
    WHERE applied_at IS NULL AND superseded_at IS NULL;
REVOKE UPDATE, DELETE, TRUNCATE ON retention_changes FROM epep_pep;
GRANT UPDATE (confirmed_by, confirmed_at, applied_at, superseded_at) ON retention_changes TO epep_pep;
