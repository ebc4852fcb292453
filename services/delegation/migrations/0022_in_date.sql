-- Issue 18. The "in date" figure per QA caseworker (services/delegation/in_date.py): who reviewed each PEP at the first
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

-- LAs that saved their timescales before delegation announced them: each one's latest version, announced once
-- through the outbox as a save announces it (delegation.timescales.changed), so qa counts by the LA's own rules.
WITH latest AS (
    SELECT DISTINCT ON (la_id) la_id, version, config, gen_random_uuid() AS event_id
    FROM timescale_versions ORDER BY la_id, version DESC
)
INSERT INTO outbox (event_id, routing_key, envelope)
SELECT event_id, 'delegation.timescales.changed.v1', jsonb_build_object(
    'event_id', event_id, 'event_type', 'delegation.timescales.changed', 'version', 1, 'occurred_at', now(),
    'producer', 'delegation', 'tenant', la_id::text, 'correlation_id', NULL,
    'data', jsonb_build_object('la_id', la_id, 'version', version, 'rules', coalesce(config -> 'rules', '{}'),
                               'term_periods', coalesce(config -> 'term_periods', '[]'),
                               'inset_days', coalesce(config -> 'inset_days', '[]')))
FROM latest;
