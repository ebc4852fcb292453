-- Each LA's timescale rules as delegation announces them (delegation.timescales.changed): the dashboard counts
-- its timescales by the LA's own rules ('qa_review' for the QA check, 'dt_return' for submission after the
-- meeting), not a constant. The highest version wins, whatever order the events arrive in; an LA with no row
-- keeps the national defaults. A change raises the LA's dashboard version (0011), so no figure counted by the
-- old rule is served again.
CREATE TABLE la_timescales (
    la_id        uuid PRIMARY KEY,
    version      integer NOT NULL,
    rules        jsonb NOT NULL,
    term_periods jsonb NOT NULL DEFAULT '[]',
    inset_days   date[] NOT NULL DEFAULT '{}'
);
CREATE TRIGGER la_timescales_mark_insert AFTER INSERT ON la_timescales REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark();
CREATE TRIGGER la_timescales_mark_update AFTER UPDATE ON la_timescales
    REFERENCING NEW TABLE AS changed OLD TABLE AS previous FOR EACH STATEMENT EXECUTE FUNCTION dashboard_mark();
