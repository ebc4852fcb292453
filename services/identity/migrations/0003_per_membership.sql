-- Deactivation is per membership: one LA's admin ends a person's work for that LA and never touches another LA's.
-- An account with no active membership left cannot sign in; a session resolves only its active memberships.
ALTER TABLE memberships ADD COLUMN disabled_at timestamptz, ADD COLUMN disabled_by uuid REFERENCES users (id);
UPDATE memberships m SET disabled_at = u.disabled_at FROM users u WHERE u.id = m.user_id AND u.disabled_at IS NOT NULL;
UPDATE users SET disabled_at = NULL WHERE disabled_at IS NOT NULL;

-- A wrong password's attempt remembers the address typed, so guessing its code throttles that account exactly as
-- guessing a real attempt's code does (the two must not be told apart).
ALTER TABLE sign_in_attempts ADD COLUMN email_normalised text;

-- A member of a setting's staff with no row here sees nothing until their DT grants it (NULL in a row: everything).
COMMENT ON TABLE staff_access IS 'What a DT lets each member of their setting''s staff see: no row, nothing; NULL, everything';
