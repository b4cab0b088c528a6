-- Integrity (issue 5): public keys kept for offline `verify` runs, and one row per `verify` run.
CREATE TABLE public_keys (
    fingerprint TEXT NOT NULL,               -- hex MD5 of the PKCS#1 DER
    der         BLOB NOT NULL,               -- PKCS#1 RSAPublicKey DER
    valid_from  INTEGER,                     -- epoch ms, NULL when unknown (PEM/DER files)
    valid_to    INTEGER,
    source      TEXT NOT NULL,               -- file it was first loaded from
    PRIMARY KEY (fingerprint, der)
) WITHOUT ROWID;
-- sources.integrity is set by `verify`: validated | invalid | unverified (matched by sources.sha256).
CREATE TABLE verifications (
    id          INTEGER PRIMARY KEY,
    verified_at INTEGER NOT NULL,            -- epoch ms
    paths       TEXT NOT NULL,               -- JSON array of the paths given
    findings    INTEGER NOT NULL,
    report      TEXT NOT NULL                -- the JSON report
);
