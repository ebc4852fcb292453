-- Each LA's own session rules: how long without activity ends the session of anyone who works for the LA (at the
-- LA or at one of its settings), and how long before that the timeout warning shows. No row: the service's
-- default (EPEP_SESSION_IDLE_SECONDS, EPEP_SESSION_WARNING_SECONDS). Someone who works for several LAs gets the
-- strictest: the shortest idle timeout of them all (store.py SESSION_RULE).
CREATE TABLE session_rules (
    la_id           uuid PRIMARY KEY REFERENCES organisations (id),
    idle_minutes    integer NOT NULL CHECK (idle_minutes BETWEEN 5 AND 120),
    warning_minutes integer NOT NULL CHECK (warning_minutes >= 1 AND warning_minutes < idle_minutes),
    version         integer NOT NULL DEFAULT 1,
    changed_by      uuid NOT NULL REFERENCES users (id),
    changed_at      timestamptz NOT NULL DEFAULT now()
);

-- Every version an LA has had, who set it and when (the current one is also in session_rules).
CREATE TABLE session_rule_versions (
    la_id           uuid NOT NULL REFERENCES organisations (id),
    version         integer NOT NULL,
    idle_minutes    integer NOT NULL,
    warning_minutes integer NOT NULL,
    changed_by      uuid NOT NULL REFERENCES users (id),
    changed_at      timestamptz NOT NULL,
    PRIMARY KEY (la_id, version)
);

-- The rule a person's sessions follow, in seconds (p_unit: seconds in one of the rule's minutes, 60 but in tests):
-- of every LA they work for through an active membership (at the LA or at one of its settings), that LA's rule or
-- the default where it has none; the shortest idle timeout wins, and of equal ones the longer warning. The one
-- definition: resolving a session, signing in and listing one's sessions all ask it. The default counts only for
-- an LA without a rule: someone who works for Welfare Call alone has its 40 minutes, not the shorter default.
CREATE FUNCTION session_rule_of(p_user uuid, p_default_idle integer, p_default_warning integer, p_unit integer)
RETURNS TABLE (idle_seconds integer, warning_seconds integer)
LANGUAGE sql STABLE SET search_path = identity, pg_temp AS $$
    SELECT rules.idle_seconds, rules.warning_seconds FROM (
        SELECT coalesce(r.idle_minutes * p_unit, p_default_idle) AS idle_seconds,
               coalesce(r.warning_minutes * p_unit, p_default_warning) AS warning_seconds
        FROM memberships m JOIN organisations o ON o.id = m.organisation_id
        LEFT JOIN session_rules r ON r.la_id = CASE WHEN o.type = 'local_authority' THEN o.id ELSE o.la_id END
        WHERE m.user_id = p_user AND m.disabled_at IS NULL
        UNION ALL  -- someone with no active membership (who cannot sign in anyway): the default
        SELECT p_default_idle, p_default_warning
        WHERE NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = p_user AND disabled_at IS NULL)
    ) rules
    ORDER BY rules.idle_seconds, rules.warning_seconds DESC
    LIMIT 1
$$;
