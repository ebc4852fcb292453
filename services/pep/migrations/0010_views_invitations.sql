-- Secure invitations for a young person or carer to give their views in one section of one PEP, without an
-- account. Only hashes are kept: of the emailed link's token, of the emailed code (keyed) and of the session
-- the code opens. `audience` says who was asked; `question_set` which of the section's questions they answer.
CREATE TABLE views_invitations (
    id            uuid PRIMARY KEY,
    pep_id        uuid NOT NULL REFERENCES peps (id),
    child_id      uuid NOT NULL,
    la_id         uuid NOT NULL,
    section_key   text NOT NULL,
    audience      text NOT NULL CHECK (audience IN ('young_person', 'carer')),
    given_name    text NOT NULL,
    email         text NOT NULL,
    question_set  text,
    token_hash    bytea NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    created_by    uuid NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoked_by    uuid,
    -- the current emailed code: a new one replaces the old
    code_hmac     bytea,
    code_key_id   text,
    code_expires_at timestamptz,
    code_tries    integer NOT NULL DEFAULT 0,
    code_used_at  timestamptz,
    -- codes sent since codes_window_at: a few an hour at most, so a link cannot be used to flood an inbox
    codes_sent    integer NOT NULL DEFAULT 0,
    codes_window_at timestamptz,
    last_used_at  timestamptz
);
CREATE INDEX views_invitations_pep ON views_invitations (pep_id, created_at DESC);

CREATE TABLE views_sessions (
    token_hash    bytea PRIMARY KEY,
    invitation_id uuid NOT NULL REFERENCES views_invitations (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX views_sessions_invitation ON views_sessions (invitation_id);
