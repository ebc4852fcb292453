-- Each LA's timescale configuration (services/delegation/domain/timescales.py), one row per version: a change
-- inserts the next version and none is ever updated or deleted, so the rows are the audit of who changed what,
-- when and why. An LA with no row uses the defaults (version 0). Two saves from the same version race for the
-- primary key, and the loser is told to start again from the newer one.
CREATE TABLE timescale_versions (
    la_id      uuid NOT NULL,
    version    integer NOT NULL CHECK (version >= 1),
    config     jsonb NOT NULL,           -- the whole configuration as of this version, rules with their versions
    changes    jsonb NOT NULL,           -- [{field, before, after}] in words, against the version before
    note       text,                     -- why, as the admin gave it
    changed_by uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (la_id, version)
);
REVOKE UPDATE, DELETE, TRUNCATE ON timescale_versions FROM epep_delegation;
