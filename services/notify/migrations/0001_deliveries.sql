-- Every email: one row per (event, recipient, template), so redelivery and replicas can never send twice.
-- The body is not stored (a sign-in code must not sit in a table); it is rendered from the event at send time.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    event_id        uuid NOT NULL,
    recipient       text NOT NULL,
    template        text NOT NULL,
    subject         text NOT NULL,
    tenant          text,
    status          text NOT NULL DEFAULT 'created'
                    CHECK (status IN ('created', 'sending', 'sent', 'temporary_failure', 'permanent_failure')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sending_at      timestamptz,
    sent_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, recipient, template)
);
CREATE INDEX deliveries_status ON deliveries (status, updated_at);
