-- Indexes for who-changed and timeline (issue 3).
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id) WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX config_items_name ON config_items(resource_name) WHERE resource_name IS NOT NULL;
