-- People, as identity last described them (identity.user.changed events). Kept by services that show
-- names, address emails or check roles without calling identity on every request.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    email       text NOT NULL,
    given_name  text NOT NULL,
    family_name text NOT NULL,
    memberships jsonb NOT NULL DEFAULT '[]',
    disabled    boolean NOT NULL DEFAULT false,
    -- events may arrive out of order: keep the newest
    changed_at  timestamptz NOT NULL
);
