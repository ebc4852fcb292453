-- Erasure is final (shared/tombstones.py): a tombstone per child this service erased, and per PEP of theirs.
-- The bus drops any later event about one of them (a retry, a replayed dead letter, a late delivery), so nothing
-- recreates what the erasure took away. Ids only, nothing personal; never updated or deleted.
CREATE TABLE tombstones (
    id         uuid PRIMARY KEY,   -- the child's id, or one of their PEPs'
    child_id   uuid NOT NULL,
    erased_at  timestamptz NOT NULL DEFAULT now()
);
-- The service role may add tombstones, never take one away (it got data rights by default privileges).
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT DISTINCT grantee FROM information_schema.role_table_grants
             WHERE table_schema = current_schema() AND table_name = 'tombstones' AND grantee <> current_user LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON tombstones FROM %I', r.grantee);
    END LOOP;
END $$;
