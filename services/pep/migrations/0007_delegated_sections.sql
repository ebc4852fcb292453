-- Sections delegated by an open task (delegation.task.changed): while open, only the delegate writes them.
CREATE TABLE delegated_sections (
    task_id    uuid PRIMARY KEY,
    pep_id     uuid NOT NULL,
    setting_id uuid,
    sections   text[] NOT NULL,
    open       boolean NOT NULL,
    version    integer NOT NULL
);
CREATE INDEX delegated_sections_pep ON delegated_sections (pep_id) WHERE open;
