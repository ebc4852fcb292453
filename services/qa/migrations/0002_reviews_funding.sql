-- qa's read models of pep's events (qa never reads another schema), its reviews and its PP+ funding decisions.

-- Children as pep announces them (pep.child.changed): names for the queues, the LA for tenancy.
CREATE TABLE children (
    id               uuid PRIMARY KEY,
    la_id            uuid NOT NULL,
    setting_id       uuid,
    social_worker_id uuid,
    given_name       text NOT NULL,
    family_name      text NOT NULL,
    year_group       text,
    version          integer NOT NULL
);
CREATE INDEX children_la ON children (la_id);

-- PEPs as pep announces them (pep.pep.status_changed): submitted_at is the real time of the latest
-- submission (the event's occurred_at), which Gold is counted from.
CREATE TABLE peps (
    id             uuid PRIMARY KEY,
    child_id       uuid NOT NULL,
    la_id          uuid NOT NULL,
    setting_id     uuid,
    status         text NOT NULL,
    kind           text NOT NULL,
    term           text NOT NULL,
    academic_year  text NOT NULL,
    meeting_date   date,
    submitted_at   timestamptz,
    status_version integer NOT NULL
);
CREATE INDEX peps_queue ON peps (la_id, status, submitted_at);

-- Each LA's QA settings: its framework and PP+ allocation per child per financial year.
CREATE TABLE la_settings (
    la_id          uuid PRIMARY KEY,
    framework_key  text NOT NULL DEFAULT 'redcar_cleveland',
    allocation     numeric(10, 2) NOT NULL DEFAULT 2630.00,
    changed_by     uuid,
    changed_at     timestamptz NOT NULL DEFAULT now()
);

-- Every review of every PEP, as written: each draft save, decision and confirmation is a new row, never changed.
-- The review of a submission is its rows with that submitted_at; the newest row is where it stands.
CREATE TABLE reviews (
    id               bigserial PRIMARY KEY,
    pep_id           uuid NOT NULL,
    child_id         uuid NOT NULL,
    la_id            uuid NOT NULL,
    submitted_at     timestamptz NOT NULL,
    meeting_date     date,
    stage            text NOT NULL CHECK (stage IN ('draft', 'decided', 'confirmed')),
    framework_key    text NOT NULL,
    areas            jsonb NOT NULL DEFAULT '{}',
    overall_grade    text,
    awarded_grade    text,
    overall_feedback text,
    outcome          text CHECK (outcome IN ('approve', 'return')),
    reason           text,
    note             text,
    by_user          uuid,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX reviews_pep ON reviews (pep_id, id);
REVOKE UPDATE, DELETE, TRUNCATE ON reviews FROM epep_qa;

-- PP+ requests from submitted PEPs' targets (pep.funding.requested), one per PEP target, with where each stands.
CREATE TABLE funding_requests (
    id                uuid PRIMARY KEY,
    pep_id            uuid NOT NULL,
    target            integer NOT NULL,
    child_id          uuid NOT NULL,
    la_id             uuid NOT NULL,
    setting_id        uuid,
    description       text NOT NULL,
    funding_type      text,
    area_of_focus     text,
    intervention_type text,
    amount_requested  numeric(10, 2),
    academic_year     text NOT NULL,
    term              text NOT NULL,
    requested_at      timestamptz NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'approved', 'refused', 'more_information')),
    amount_approved   numeric(10, 2),
    reason            text,
    decided_by        uuid,
    decided_at        timestamptz,
    financial_year    text,
    UNIQUE (pep_id, target)
);
CREATE INDEX funding_requests_la ON funding_requests (la_id, status, requested_at);
CREATE INDEX funding_requests_child ON funding_requests (child_id);

-- Every funding decision as made, never changed.
CREATE TABLE funding_decisions (
    id         bigserial PRIMARY KEY,
    request_id uuid NOT NULL REFERENCES funding_requests (id),
    decision   text NOT NULL,
    amount     numeric(10, 2),
    reason     text,
    by_user    uuid NOT NULL,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
REVOKE UPDATE, DELETE, TRUNCATE ON funding_decisions FROM epep_qa;
