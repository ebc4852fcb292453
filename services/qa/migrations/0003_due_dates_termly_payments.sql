-- Delegation's tasks as it announces them (delegation.task.changed): each PEP's due dates are its open tasks', so
-- the dashboard counts PEPs due and overdue without reading delegation's schema. `version` keeps the newest.
CREATE TABLE pep_tasks (
    id        uuid PRIMARY KEY,
    pep_id    uuid NOT NULL,
    la_id     uuid NOT NULL,
    kind      text NOT NULL,
    status    text NOT NULL,
    due_date  date,
    version   integer NOT NULL
);
CREATE INDEX pep_tasks_pep ON pep_tasks (pep_id);

-- An LA's automatic termly PP+ payment (pounds per child per term with an approved or finalised PEP; NULL: none).
ALTER TABLE la_settings ADD COLUMN termly_payment numeric(10, 2);

-- Each automatic termly payment, made once per child per academic year and term, whatever the number of replicas.
CREATE TABLE termly_payments (
    id             uuid PRIMARY KEY,
    child_id       uuid NOT NULL,
    la_id          uuid NOT NULL,
    pep_id         uuid NOT NULL,
    setting_id     uuid,
    academic_year  text NOT NULL,
    term           text NOT NULL,
    amount         numeric(10, 2) NOT NULL,
    financial_year text NOT NULL,
    paid_at        timestamptz NOT NULL,
    UNIQUE (child_id, academic_year, term)
);
CREATE INDEX termly_payments_la ON termly_payments (la_id, financial_year);
REVOKE UPDATE, DELETE, TRUNCATE ON termly_payments FROM epep_qa;
