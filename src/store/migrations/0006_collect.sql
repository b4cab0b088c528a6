-- Collect (issue 6): the S3 objects `collect` fetched, so the next run skips those whose ETag and size are
-- unchanged without downloading them. source_id is the source the object's bytes became (sources.id).
CREATE TABLE s3_objects (
    bucket     TEXT NOT NULL,
    key        TEXT NOT NULL,
    etag       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    fetched_at INTEGER NOT NULL,             -- epoch ms
    source_id  INTEGER REFERENCES sources(id),
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
