-- The first 8 bytes of SHA-256 over an event's raw record as it arrived (issue 13). A re-delivery with the same
-- bytes is recognized from the row alone; only a record with the same id and fingerprint but other bytes (a Lake
-- or LookupEvents copy, or a real variant) is compared with the stored record (docs/ingest.md). NULL on rows
-- written before this migration.
ALTER TABLE events ADD COLUMN raw_hash INTEGER;
