-- Every request that reached a child's record or PEP: who (and how they reach the child), what, when, from
-- where. Kept as written: the service role may add rows, never change or delete them.
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_id     uuid NOT NULL,
    via         text NOT NULL,
    la_id       uuid NOT NULL,
    child_id    uuid NOT NULL,
    pep_id      uuid,
    method      text NOT NULL,
    endpoint    text NOT NULL,
    section_key text,
    request_id  text,
    address     text
);
CREATE INDEX access_log_child ON access_log (child_id, at DESC);
REVOKE UPDATE, DELETE, TRUNCATE ON access_log FROM epep_pep;
