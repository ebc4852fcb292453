-- One row per piece of work the lifecycle test service starts, finished_at set when it ends.
CREATE TABLE work (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,          -- request | message | tick
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz
);
