-- Work on alerts: who an alert is assigned to (a person or a crew, free text as the
-- department names them), and the notes people add while they work on it.

ALTER TABLE alerts
    ADD COLUMN assignee     text CHECK (length(assignee) BETWEEN 1 AND 200),
    ADD COLUMN assigned_at  timestamptz,
    ADD COLUMN assigned_by  text;
CREATE INDEX alerts_assignee_idx ON alerts (assignee) WHERE state <> 'resolved';

CREATE TABLE alert_notes (
    id        bigserial PRIMARY KEY,
    alert_id  bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at        timestamptz NOT NULL DEFAULT now(),
    author    text NOT NULL,
    text      text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000)
);
CREATE INDEX alert_notes_alert_idx ON alert_notes (alert_id, id);
