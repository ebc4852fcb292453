-- How many days retracted and submitted tasks stay in people's trays, per LA (30 when not set).
CREATE TABLE tray_settings (
    la_id      uuid PRIMARY KEY,
    tray_days  integer NOT NULL CHECK (tray_days BETWEEN 1 AND 365),
    changed_by uuid NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
