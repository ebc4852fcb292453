-- How each person wants reminders: as they happen, or gathered into one email a day. Codes and security
-- notices are always sent at once, whatever this says.
CREATE TABLE preferences (
    user_id    uuid PRIMARY KEY,
    reminders  text NOT NULL CHECK (reminders IN ('immediate', 'daily')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Reminders waiting for someone's daily digest; `digest_date` is set when a digest takes them.
CREATE TABLE digest_items (
    id          bigserial PRIMARY KEY,
    event_id    uuid NOT NULL,
    user_id     uuid NOT NULL,
    template    text NOT NULL,
    values      jsonb NOT NULL,
    la_id       uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    digest_date date,
    UNIQUE (event_id, user_id, template)
);
CREATE INDEX digest_items_waiting ON digest_items (user_id) WHERE digest_date IS NULL;

-- One digest per person per day, whichever replica gets there first.
CREATE TABLE digests (
    user_id     uuid NOT NULL,
    digest_date date NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, digest_date)
);
