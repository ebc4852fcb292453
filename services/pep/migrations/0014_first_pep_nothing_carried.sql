-- A child's first PEP carried nothing forward: the answers it started with came from the child's record, so none
-- of them is a carried answer waiting to be checked, and its task list must not say "Check carried answers"
-- (issue 22). New PEPs list only answers carried from the last PEP (domain/carry_forward.py); this clears what
-- first PEPs started before then listed. Later PEPs keep theirs: they did carry answers.
UPDATE pep_sections SET to_check = '{}'
WHERE to_check <> '{}' AND pep_id IN (SELECT id FROM peps WHERE previous_pep_id IS NULL);
