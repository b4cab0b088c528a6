-- Indexes for who-changed and timeline (issue 3).
CREATE INDEX sessions_issuer_principal ON sessions(issuer_principal_id) WHERE issuer_principal_id IS NOT NULL;
CREATE INDEX config_items_name ON config_items(resource_name) WHERE resource_name IS NOT NULL;
-- who-changed reads only the calls about a resource (`target`), not the millions of object reads of a bucket.
CREATE INDEX event_resources_access ON event_resources(resource, access, event);
CREATE INDEX sessions_principal ON sessions(principal_id);
