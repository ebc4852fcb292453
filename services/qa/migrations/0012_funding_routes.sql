-- Issue 22, funding by type (Kent): only the funding the Virtual School decides (its PP+) is queued; pep now asks
-- only for that. The funding type, area of focus and intervention in the PEP template's words, so the queue reads
-- labels, not keys.
ALTER TABLE funding_requests ADD COLUMN funding_type_label text;
ALTER TABLE funding_requests ADD COLUMN area_of_focus_label text;
ALTER TABLE funding_requests ADD COLUMN intervention_type_label text;

-- Requests queued before this by targets another budget pays for (school funding, high needs, the automatic
-- termly payment, pre-school) that nobody has decided: they were never the Virtual School's to decide, and they
-- stay recorded in their PEPs. A decided one keeps its history.
DELETE FROM funding_requests f WHERE f.status = 'pending' AND f.decided_at IS NULL
    AND f.funding_type IS DISTINCT FROM 'vs_pp_plus'
    AND NOT EXISTS (SELECT 1 FROM funding_decisions d WHERE d.request_id = f.id);
