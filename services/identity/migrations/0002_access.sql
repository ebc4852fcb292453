-- Organisations in full: settings sit in an LA's area; LAs carry their Virtual School's contact details.
ALTER TABLE organisations
    ADD COLUMN setting_type  text CHECK (setting_type IN ('school', 'academy', 'college', 'early_years',
                                                          'alternative_provision')),
    ADD COLUMN urn           text,
    ADD COLUMN phase         text CHECK (phase IN ('early_years', 'primary', 'secondary', 'all_through', 'post_16',
                                                   'special')),
    ADD COLUMN address       text,
    ADD COLUMN contact_email text,
    ADD COLUMN contact_phone text,
    ADD COLUMN updated_at    timestamptz NOT NULL DEFAULT now();
CREATE INDEX organisations_la ON organisations (la_id);

-- Exactly one nominated Designated Teacher per setting at a time; every change kept.
CREATE TABLE designated_teacher_nominations (
    id            bigserial PRIMARY KEY,
    setting_id    uuid NOT NULL REFERENCES organisations (id),
    user_id       uuid NOT NULL REFERENCES users (id),
    nominated_by  uuid REFERENCES users (id),
    nominated_at  timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz
);
CREATE UNIQUE INDEX one_current_dt_per_setting ON designated_teacher_nominations (setting_id) WHERE ended_at IS NULL;

CREATE TABLE invitations (
    id               uuid PRIMARY KEY,
    token_hash       bytea NOT NULL UNIQUE,  -- sha256 of the emailed token
    organisation_id  uuid NOT NULL REFERENCES organisations (id),
    role             text NOT NULL,
    email            text NOT NULL,
    email_normalised text NOT NULL,
    given_name       text NOT NULL,
    family_name      text NOT NULL,
    invited_by       uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    accepted_at      timestamptz,
    accepted_by      uuid REFERENCES users (id),
    revoked_at       timestamptz
);
CREATE INDEX invitations_open ON invitations (organisation_id) WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE UNIQUE INDEX one_open_invitation_per_email_and_org ON invitations (organisation_id, email_normalised)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

-- One-time codes sent to prove an address: registering, changing email, resetting a password.
-- `payload` holds what the code will confirm (the pending registration, the new address).
CREATE TABLE email_codes (
    id              uuid PRIMARY KEY,
    purpose         text NOT NULL CHECK (purpose IN ('verify_registration', 'change_email', 'reset_password')),
    user_id         uuid REFERENCES users (id),
    email           text,
    payload         jsonb NOT NULL DEFAULT '{}',
    code_hmac       bytea,
    code_key_id     text,
    code_expires_at timestamptz,
    code_tries      integer NOT NULL DEFAULT 0,
    codes_sent      integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    used_at         timestamptz
);

-- What a DT lets each member of their setting's staff see (NULL: everything).
CREATE TABLE staff_access (
    setting_id  uuid NOT NULL REFERENCES organisations (id),
    user_id     uuid NOT NULL REFERENCES users (id),
    children    uuid[],
    sections    text[],
    updated_by  uuid REFERENCES users (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (setting_id, user_id)
);

-- Every identity action, append-only: the service's own role may add rows but never change or remove them.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    action          text NOT NULL,
    outcome         text NOT NULL,
    actor_id        uuid,
    subject_user_id uuid,
    organisation_id uuid,
    la_ids          uuid[] NOT NULL DEFAULT '{}',  -- the LAs whose admins may read it
    client_address  text,
    details         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_la ON audit_log USING gin (la_ids);
CREATE INDEX audit_log_at ON audit_log (at DESC);
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM epep_identity;

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
ALTER TABLE sign_in_attempts ADD COLUMN client_address text;
