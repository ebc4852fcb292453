-- A child's full core data, owned by their LA. `version` rises by one with every change: an edit names the
-- version it started from, so two people editing at once cannot overwrite each other unseen.
ALTER TABLE children
    ADD COLUMN gender            text CHECK (gender IN ('female', 'male', 'other', 'not_known')),
    ADD COLUMN ethnicity         text,
    ADD COLUMN first_language    text,
    ADD COLUMN upn               text CHECK (upn ~ '^[A-Z][0-9]{11}[0-9A-Z]$'),
    ADD COLUMN uln               text CHECK (uln ~ '^[1-9][0-9]{9}$'),
    ADD COLUMN social_care_id    text,
    ADD COLUMN date_entered_care date,
    ADD COLUMN legal_status      text CHECK (legal_status IN ('s20', 'interim_care_order', 'full_care_order',
                                                              'placement_order', 'remand', 'other')),
    ADD COLUMN placement_type    text CHECK (placement_type IN ('foster_care', 'kinship_care', 'residential', 'secure',
                                                                'semi_independent', 'placed_with_parents',
                                                                'placed_for_adoption', 'other')),
    ADD COLUMN carer             jsonb,  -- {name, phone, email, address} of the carer(s) in the placement
    ADD COLUMN sen_status        text CHECK (sen_status IN ('none', 'sen_support', 'ehcp')),
    ADD COLUMN health_notes      text,
    ADD COLUMN contacts          jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN social_worker_id  uuid,
    ADD COLUMN iro_id            uuid,
    ADD COLUMN carer_ids         uuid[] NOT NULL DEFAULT '{}',
    ADD COLUMN in_care           boolean NOT NULL DEFAULT true,
    ADD COLUMN version           integer NOT NULL DEFAULT 1,
    ADD COLUMN updated_at        timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN updated_by        uuid,
    ADD CONSTRAINT children_year_group CHECK (year_group ~ '^(Nursery|Reception|Year ([1-9]|1[0-3]))$');
-- The LA's social care system's id finds a child again (CSV imports update by it).
CREATE UNIQUE INDEX children_social_care_id ON children (la_id, social_care_id);
-- Lets sibling links insist, in the database itself, that both children are the same LA's.
CREATE UNIQUE INDEX children_id_la ON children (id, la_id);
CREATE INDEX children_social_worker ON children (social_worker_id);

-- What changed in a child's placement (legal status, placement type, carers, in care) and their education
-- (setting, year group): from, to, when, by whom, and the record version the change made. Append-only.
CREATE TABLE placement_history (
    id         bigserial PRIMARY KEY,
    child_id   uuid NOT NULL REFERENCES children (id),
    version    integer NOT NULL,
    what       text NOT NULL,
    from_value jsonb,
    to_value   jsonb,
    changed_by uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX placement_history_child ON placement_history (child_id, id);

CREATE TABLE setting_history (
    id         bigserial PRIMARY KEY,
    child_id   uuid NOT NULL REFERENCES children (id),
    version    integer NOT NULL,
    what       text NOT NULL,
    from_value jsonb,
    to_value   jsonb,
    changed_by uuid,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX setting_history_child ON setting_history (child_id, id);
REVOKE UPDATE, DELETE, TRUNCATE ON placement_history, setting_history FROM epep_pep;

-- Siblings are links between two records of the same LA, never copies of each other's data. One row per
-- pair (the smaller id first); both foreign keys carry the LA, so a link across LAs cannot be stored.
CREATE TABLE sibling_links (
    la_id      uuid NOT NULL,
    child_id   uuid NOT NULL,
    sibling_id uuid NOT NULL,
    linked_by  uuid,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (child_id, sibling_id),
    CHECK (child_id < sibling_id),
    FOREIGN KEY (child_id, la_id) REFERENCES children (id, la_id),
    FOREIGN KEY (sibling_id, la_id) REFERENCES children (id, la_id)
);
CREATE INDEX sibling_links_sibling ON sibling_links (sibling_id);

-- Attendance in sessions (half days) per period, from the API or a CSV import. The percentage is derived.
CREATE TABLE attendance (
    id                    uuid PRIMARY KEY,
    child_id              uuid NOT NULL REFERENCES children (id),
    period_start          date NOT NULL,
    period_end            date NOT NULL,
    possible_sessions     integer NOT NULL CHECK (possible_sessions >= 0),
    attended_sessions     integer NOT NULL CHECK (attended_sessions >= 0),
    authorised_absences   integer NOT NULL DEFAULT 0 CHECK (authorised_absences >= 0),
    unauthorised_absences integer NOT NULL DEFAULT 0 CHECK (unauthorised_absences >= 0),
    source                text NOT NULL CHECK (source IN ('api', 'csv')),
    recorded_by           uuid,
    recorded_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (period_end >= period_start),
    CHECK (attended_sessions + authorised_absences + unauthorised_absences <= possible_sessions),
    UNIQUE (child_id, period_start, period_end)
);
