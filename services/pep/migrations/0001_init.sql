-- Children's core data, owned by their LA. The full record (UPN, legal status, placement, SEN...) and the
-- PEP documents arrive with their issue; this is the part every later table refers to.
CREATE TABLE children (
    id            uuid PRIMARY KEY,
    la_id         uuid NOT NULL,
    given_name    text NOT NULL,
    family_name   text NOT NULL,
    date_of_birth date NOT NULL,
    setting_id    uuid,
    year_group    text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX children_la ON children (la_id);
CREATE INDEX children_setting ON children (setting_id);
