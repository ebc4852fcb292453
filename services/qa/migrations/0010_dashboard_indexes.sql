-- no-transaction
-- replaces: 60e5cb5a346a5291a22a6eb726221b3263680d377a07518adc9b4af7bcd2766e
-- Built CONCURRENTLY, outside a transaction (shared/migrate.py): a plain CREATE INDEX holds a lock that blocks
-- every write to reviews until it is built, minutes on a large table during a rollout. The first text of this
-- migration (the checksum above) built it that way; where that was applied the index is there and this does
-- not run again. Safe to repeat: a concurrent build cut short leaves an INVALID index, dropped here first.
--
-- The dashboard's review figures (latest rating per PEP, QA turnaround) and its caseworker picker read one LA's
-- reviews; without this they scanned every LA's reviews on each request (EXPLAIN ANALYZE: a sequential scan
-- discarding seven rows in eight at 8 LAs), so one LA's dashboard grew with every LA's reviews. pep_id comes
-- second so the per-PEP lookups of the rating and caseworker filters (la_id and pep_id) stay direct: with
-- (la_id, stage, ...) or (la_id, by_user) the planner could pick those and scan the LA's reviews once per PEP.
DROP INDEX CONCURRENTLY IF EXISTS reviews_la_pep;
CREATE INDEX CONCURRENTLY reviews_la_pep ON reviews (la_id, pep_id, id);
