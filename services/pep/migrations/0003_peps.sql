-- Template versions in use. A PEP points at the exact version it started with, so a later edit of the template
-- never changes a PEP already written. la_id NULL: a national default; otherwise an LA's own copy.
CREATE TABLE templates (
    id         uuid PRIMARY KEY,
    key        text NOT NULL,
    version    integer NOT NULL,
    la_id      uuid,
    phase      text NOT NULL,
    body       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX templates_version ON templates (key, version, coalesce(la_id, '00000000-0000-0000-0000-000000000000'));

CREATE TABLE peps (
    id              uuid PRIMARY KEY,
    child_id        uuid NOT NULL REFERENCES children (id),
    la_id           uuid NOT NULL,
    setting_id      uuid,
    template_id     uuid NOT NULL REFERENCES templates (id),
    kind            text NOT NULL CHECK (kind IN ('initial', 'termly_review', 'change_of_placement', 'change_of_setting',
                                                  'emergency')),
    term            text NOT NULL CHECK (term IN ('autumn', 'spring', 'summer')),
    academic_year   text NOT NULL CHECK (academic_year ~ '^\d{4}/\d{2}$'),
    status          text NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'in_progress', 'submitted',
                                                  'returned', 'approved', 'finalised', 'cancelled')),
    meeting_date    date,
    previous_pep_id uuid REFERENCES peps (id),
    version         integer NOT NULL DEFAULT 1,
    created_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX peps_child ON peps (child_id, created_at DESC);
-- One PEP in hand per child at a time: the next is created when this one is finalised or cancelled.
CREATE UNIQUE INDEX one_open_pep_per_child ON peps (child_id) WHERE status NOT IN ('finalised', 'cancelled');

CREATE TABLE pep_sections (
    pep_id       uuid NOT NULL REFERENCES peps (id),
    section_key  text NOT NULL,
    answers      jsonb NOT NULL DEFAULT '{}',
    version      integer NOT NULL DEFAULT 0,  -- optimistic concurrency: a save names the version it started from
    status       text NOT NULL DEFAULT 'not_started' CHECK (status IN ('not_started', 'in_progress', 'complete')),
    -- answers brought from the last PEP (or core data) that nobody has looked at since
    to_check     text[] NOT NULL DEFAULT '{}',
    updated_by   uuid,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_by uuid,
    completed_at timestamptz,
    PRIMARY KEY (pep_id, section_key)
);

-- Every save: who, when, what changed, and the whole section as it then stood.
CREATE TABLE section_history (
    id          bigserial PRIMARY KEY,
    pep_id      uuid NOT NULL,
    section_key text NOT NULL,
    version     integer NOT NULL,
    changed     text[] NOT NULL,
    answers     jsonb NOT NULL,
    saved_by    uuid,
    saved_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (pep_id, section_key, version)
);

CREATE TABLE pep_transitions (
    id          bigserial PRIMARY KEY,
    pep_id      uuid NOT NULL REFERENCES peps (id),
    from_status text NOT NULL,
    to_status   text NOT NULL,
    action      text NOT NULL,
    reason      text,
    by_user     uuid,
    at          timestamptz NOT NULL DEFAULT now()
);
REVOKE UPDATE, DELETE, TRUNCATE ON section_history, pep_transitions FROM epep_pep;
