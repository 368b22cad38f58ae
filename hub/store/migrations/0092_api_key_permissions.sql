-- Permissions a key carries beside its role (docs/privacy.md). The only one:
-- 'personal', to read personal devices' own data (not only their aggregates);
-- operator and admin keys may be granted it.

ALTER TABLE api_keys
    ADD COLUMN permissions text[] NOT NULL DEFAULT '{}'
        CHECK (permissions <@ ARRAY['personal']::text[]),
    ADD CONSTRAINT api_keys_personal_role_check
        CHECK (NOT 'personal' = ANY(permissions) OR role IN ('operator', 'admin'));
