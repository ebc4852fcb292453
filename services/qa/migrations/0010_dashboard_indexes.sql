-- The dashboard's review figures (latest rating per PEP, QA turnaround) and its caseworker picker read one LA's
-- reviews; without this they scanned every LA's reviews on each request (EXPLAIN ANALYZE: a sequential scan
-- discarding seven rows in eight at 8 LAs), so one LA's dashboard grew with every LA's reviews. pep_id comes
-- second so the per-PEP lookups of the rating and caseworker filters (la_id and pep_id) stay direct: with
-- (la_id, stage, ...) or (la_id, by_user) the planner could pick those and scan the LA's reviews once per PEP.
CREATE INDEX reviews_la_pep ON reviews (la_id, pep_id, id);
