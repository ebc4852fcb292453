-- How many times the meeting has been scheduled or moved: iCalendar's SEQUENCE for invitations.
ALTER TABLE peps ADD COLUMN meeting_sequence integer NOT NULL DEFAULT 0;
