-- The reason qa gave with a PP+ decision on a PEP's target (a refusal's, or the more information wanted), kept as
-- pep heard it (qa.funding.decided) so the PEP, its page and its PDF show it with the decision. Erased with the PEP.
ALTER TABLE funding_decisions ADD COLUMN reason text;
