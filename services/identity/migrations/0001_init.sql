CREATE TABLE organisations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    type       text NOT NULL CHECK (type IN ('local_authority', 'setting')),
    -- a setting sits in one LA's area (its children may still come from other LAs)
    la_id      uuid REFERENCES organisations (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               uuid PRIMARY KEY,
    email            text NOT NULL,
    email_normalised text NOT NULL UNIQUE,
    given_name       text NOT NULL,
    family_name      text NOT NULL,
    password_hash    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    disabled_at      timestamptz
);

CREATE TABLE memberships (
    user_id         uuid NOT NULL REFERENCES users (id),
    organisation_id uuid NOT NULL REFERENCES organisations (id),
    role            text NOT NULL CHECK (role IN ('vs_admin', 'vs_caseworker', 'vs_approver', 'social_worker',
                                                  'iro', 'designated_teacher', 'setting_staff', 'carer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, organisation_id, role)
);

-- One row per "email + password" submission, whether or not the email exists, so both answers look alike.
CREATE TABLE sign_in_attempts (
    id               uuid PRIMARY KEY,
    user_id          uuid REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    code_hmac        bytea,          -- HMAC(key, attempt id + code): the code itself is never stored
    code_key_id      text,
    code_expires_at  timestamptz,
    code_tries       integer NOT NULL DEFAULT 0,
    codes_sent       integer NOT NULL DEFAULT 0,
    used_at          timestamptz
);
CREATE INDEX sign_in_attempts_created ON sign_in_attempts (created_at);

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    token_hash    bytea NOT NULL UNIQUE,  -- sha256 of the cookie value
    user_id       uuid NOT NULL REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,   -- absolute lifetime
    revoked_at    timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- Progressive delays after failures, per account (email) and per client address. Never a permanent lock.
CREATE TABLE throttle (
    key             text PRIMARY KEY,
    failures        integer NOT NULL DEFAULT 0,
    last_failure_at timestamptz NOT NULL DEFAULT now(),
    blocked_until   timestamptz
);
