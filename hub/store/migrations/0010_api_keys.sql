-- API keys: shown once when created, stored only as the SHA-256 of the key.
-- A key is 256 random bits, so a plain (unsalted) hash is enough: there is nothing
-- to guess by brute force, and the hash can be looked up with an index.

CREATE TABLE api_keys (
    id            serial PRIMARY KEY,
    name          text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    key_hash      bytea NOT NULL UNIQUE,
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
