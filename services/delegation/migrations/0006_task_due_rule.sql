-- Which LA rule set a task's due date, in words ("10 working days after the meeting on ..."), or that the
-- person delegating chose it. Shown beside the date, so nobody has to guess where a deadline came from.
ALTER TABLE tasks ADD COLUMN due_rule text;
