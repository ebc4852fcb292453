-- delegation's own tables arrive with its issue; until then it keeps the users read model (shared/migrations/users)
-- and the bus tables (shared/migrations/bus), so the service, its role and its consumer are real.
CREATE TABLE service_notes (key text PRIMARY KEY, value text NOT NULL);
