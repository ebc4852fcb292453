-- Files about a child (EHCP, support plans, SDQs, photos, awards), optionally linked to one of their PEPs.
--
-- The bytes live here, in pep's own schema, rather than in an S3-compatible store: one backup and one restore
-- cover a PEP and its evidence together, an upload commits in the same transaction as its audit row (no
-- orphaned objects, no metadata pointing at nothing), access is decided by the same query that finds the row,
-- and there is no second piece of infrastructure to run, secure and reconcile. Files are capped at 20 MB by
-- default (EPEP_ATTACHMENT_MAX_BYTES) and a child has tens of them, not thousands: well within what Postgres
-- keeps comfortably. Revisit if attachments grow to dominate the database's size.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    child_id     uuid NOT NULL REFERENCES children (id),
    la_id        uuid NOT NULL,
    pep_id       uuid REFERENCES peps (id),
    kind         text NOT NULL CHECK (kind IN ('ehcp', 'support_plan', 'sdq', 'photo', 'award', 'other')),
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    -- sniffed from the bytes, never the type the browser claimed
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes > 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by  uuid NOT NULL,
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    -- Deleting keeps this row (who uploaded what, and who deleted it) and removes the content.
    deleted_at   timestamptz,
    deleted_by   uuid,
    CHECK ((deleted_at IS NULL) = (deleted_by IS NULL))
);
CREATE INDEX attachments_child ON attachments (child_id, uploaded_at DESC);
CREATE INDEX attachments_pep ON attachments (pep_id) WHERE pep_id IS NOT NULL;

-- The content apart from its metadata, so listing never reads the bytes and deleting is removing one row.
CREATE TABLE attachment_content (
    attachment_id uuid PRIMARY KEY REFERENCES attachments (id),
    content       bytea NOT NULL
);
-- PDFs, images and .docx files are already compressed: store them out of line without trying again.
ALTER TABLE attachment_content ALTER COLUMN content SET STORAGE EXTERNAL;

-- Who uploaded, downloaded and deleted each file, and when. Append-only, like a PEP's history.
CREATE TABLE attachment_audit (
    id            bigserial PRIMARY KEY,
    attachment_id uuid NOT NULL REFERENCES attachments (id),
    child_id      uuid NOT NULL,
    action        text NOT NULL CHECK (action IN ('uploaded', 'downloaded', 'deleted')),
    by_user       uuid NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    request_id    text
);
CREATE INDEX attachment_audit_attachment ON attachment_audit (attachment_id, id);
REVOKE UPDATE, DELETE, TRUNCATE ON attachment_audit FROM epep_pep;
