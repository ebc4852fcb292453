-- What notify must know to address PEP emails, kept from others' events (never read from their schemas).

-- Children, as pep last described them (pep.child.changed): names for the "Jordan E." in a subject, and who
-- the social worker and setting are. `version` rises with every change: an older event never wins.
CREATE TABLE children (
    id               uuid PRIMARY KEY,
    version          integer NOT NULL,
    la_id            uuid NOT NULL,
    setting_id       uuid,
    social_worker_id uuid,
    given_name       text NOT NULL,
    family_name      text NOT NULL
);

-- LAs and settings, as identity last described them (identity.organisation.changed): the Virtual School's
-- name and contact details go in every email about its children.
CREATE TABLE organisations (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    organisation_type text NOT NULL,
    la_id             uuid,
    contact_email     text,
    contact_phone     text,
    changed_at        timestamptz NOT NULL
);

-- The delivery log for VS admins: their LA's deliveries (`tenant`), newest first.
CREATE INDEX deliveries_by_tenant ON deliveries (tenant, created_at DESC, id DESC);
-- What a resend needs to render the email again: only for emails that carry no code or link token
-- (those are NULL here, and cannot be resent: the person asks for a new code instead).
ALTER TABLE deliveries ADD COLUMN payload jsonb;
ALTER TABLE deliveries ADD COLUMN resent_at timestamptz;

-- Each version of a PEP meeting notify has sent invitations for: so a save that changes nothing about the
-- meeting invites only people newly added (not everyone again), an older event never overrides a newer one,
-- and a cancellation reaches everyone ever invited. `invited` holds lower-cased addresses.
CREATE TABLE meeting_versions (
    pep_id       uuid NOT NULL,
    sequence     integer NOT NULL,
    meeting_date date NOT NULL,
    meeting_time text,
    location     text,
    invited      text[] NOT NULL,
    PRIMARY KEY (pep_id, sequence)
);
