-- sealbuild verifier database, schema version 1.
-- Times are Unix seconds. Tables are STRICT: a value of the wrong type is
-- refused instead of being stored as something else.

CREATE TABLE agents (
    agent_id       TEXT PRIMARY KEY NOT NULL,
    ek_public      BLOB NOT NULL,
    ek_certificate BLOB,
    ek_issuer      TEXT,
    ak_public      BLOB NOT NULL,
    ak_name        BLOB NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'active')),
    created_at     INTEGER NOT NULL CHECK (created_at >= 0),
    activated_at   INTEGER CHECK (activated_at >= 0)
) STRICT;

CREATE TABLE challenges (
    challenge_id  TEXT PRIMARY KEY NOT NULL,
    agent_id      TEXT NOT NULL REFERENCES agents (agent_id),
    secret_digest BLOB NOT NULL CHECK (length(secret_digest) = 32),
    created_at    INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at    INTEGER NOT NULL CHECK (expires_at >= 0),
    used_at       INTEGER CHECK (used_at >= 0)
) STRICT;
CREATE INDEX challenges_by_agent ON challenges (agent_id);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);

CREATE TABLE nonces (
    nonce      BLOB PRIMARY KEY NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    agent_id   TEXT NOT NULL REFERENCES agents (agent_id),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at INTEGER NOT NULL CHECK (expires_at >= 0),
    used_at    INTEGER CHECK (used_at >= 0)
) STRICT;
CREATE INDEX nonces_by_agent ON nonces (agent_id);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

CREATE TABLE policies (
    policy_id  TEXT NOT NULL,
    version    INTEGER NOT NULL CHECK (version >= 1),
    document   TEXT NOT NULL,
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    PRIMARY KEY (policy_id, version)
) STRICT;

-- At most one row: the policy in force.
CREATE TABLE current_policy (
    singleton INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    policy_id TEXT NOT NULL,
    version   INTEGER NOT NULL,
    FOREIGN KEY (policy_id, version) REFERENCES policies (policy_id, version)
) STRICT;

CREATE TABLE keys (
    key_id             TEXT PRIMARY KEY NOT NULL,
    algorithm          TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'ecdsa-p256', 'ecdsa-p384')),
    public_key_pem     TEXT NOT NULL,
    fingerprint        TEXT NOT NULL UNIQUE CHECK (length(fingerprint) = 64),
    sealed_private_key BLOB NOT NULL,
    origin             TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
    created_at         INTEGER NOT NULL CHECK (created_at >= 0),
    disabled           INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
) STRICT;

-- The hash-chained audit log (see audit.rs for entry_hash).
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY NOT NULL CHECK (seq >= 1),
    time       INTEGER NOT NULL CHECK (time >= 0),
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    prev_hash  BLOB NOT NULL CHECK (length(prev_hash) = 32),
    entry_hash BLOB NOT NULL CHECK (length(entry_hash) = 32)
) STRICT;

-- Guards against accidental changes by this program; someone with write
-- access to the file can drop them, which the hash chain then exposes.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;

-- One row per released key, written with its release audit entry.
CREATE TABLE releases (
    audit_seq            INTEGER PRIMARY KEY NOT NULL REFERENCES audit (seq),
    appraisal_seq        INTEGER NOT NULL REFERENCES audit (seq),
    key_id               TEXT NOT NULL REFERENCES keys (key_id),
    agent_id             TEXT NOT NULL REFERENCES agents (agent_id),
    ephemeral_key_digest BLOB NOT NULL CHECK (length(ephemeral_key_digest) = 32),
    released_at          INTEGER NOT NULL CHECK (released_at >= 0)
) STRICT;
CREATE INDEX releases_by_key ON releases (key_id);
CREATE INDEX releases_by_agent ON releases (agent_id);
