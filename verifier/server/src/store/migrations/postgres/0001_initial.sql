-- sealbuild verifier database on PostgreSQL, schema version 1: the tables of
-- the SQLite schema version 2 (same names, columns and checks). Times are
-- Unix seconds (BIGINT), blobs BYTEA. Applied by PgStore at start-up inside
-- one transaction holding the migration advisory lock.

CREATE TABLE agents (
    agent_id       TEXT PRIMARY KEY NOT NULL,
    ek_public      BYTEA NOT NULL,
    ek_certificate BYTEA,
    ek_issuer      TEXT,
    ak_public      BYTEA NOT NULL,
    ak_name        BYTEA NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'active')),
    created_at     BIGINT NOT NULL CHECK (created_at >= 0),
    activated_at   BIGINT CHECK (activated_at >= 0)
);

CREATE TABLE challenges (
    challenge_id  TEXT PRIMARY KEY NOT NULL,
    agent_id      TEXT NOT NULL REFERENCES agents (agent_id),
    secret_digest BYTEA NOT NULL CHECK (length(secret_digest) = 32),
    created_at    BIGINT NOT NULL CHECK (created_at >= 0),
    expires_at    BIGINT NOT NULL CHECK (expires_at >= 0),
    used_at       BIGINT CHECK (used_at >= 0)
);
CREATE INDEX challenges_by_agent ON challenges (agent_id);
CREATE INDEX challenges_by_expiry ON challenges (expires_at);

-- Nonce ids of SEV-SNP / Azure attesters name no registered agent: no
-- reference to agents (as in SQLite schema version 2).
CREATE TABLE nonces (
    nonce      BYTEA PRIMARY KEY NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    agent_id   TEXT NOT NULL CHECK (length(agent_id) BETWEEN 1 AND 256),
    created_at BIGINT NOT NULL CHECK (created_at >= 0),
    expires_at BIGINT NOT NULL CHECK (expires_at >= 0),
    used_at    BIGINT CHECK (used_at >= 0)
);
CREATE INDEX nonces_by_agent ON nonces (agent_id);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

CREATE TABLE policies (
    policy_id  TEXT NOT NULL,
    version    BIGINT NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    document   TEXT NOT NULL,
    sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at BIGINT NOT NULL CHECK (created_at >= 0),
    PRIMARY KEY (policy_id, version)
);

-- At most one row: the policy in force.
CREATE TABLE current_policy (
    singleton INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    policy_id TEXT NOT NULL,
    version   BIGINT NOT NULL,
    FOREIGN KEY (policy_id, version) REFERENCES policies (policy_id, version)
);

CREATE TABLE keys (
    key_id             TEXT PRIMARY KEY NOT NULL,
    algorithm          TEXT NOT NULL CHECK (algorithm IN ('ed25519', 'ecdsa-p256', 'ecdsa-p384')),
    public_key_pem     TEXT NOT NULL,
    fingerprint        TEXT NOT NULL UNIQUE CHECK (length(fingerprint) = 64),
    sealed_private_key BYTEA NOT NULL,
    origin             TEXT NOT NULL CHECK (origin IN ('generated', 'imported')),
    created_at         BIGINT NOT NULL CHECK (created_at >= 0),
    disabled           BOOLEAN NOT NULL DEFAULT false
);

-- The hash-chained audit log (see audit.rs for entry_hash). One chain for
-- every replica: appends hold the audit advisory lock (PgStore).
CREATE TABLE audit (
    seq        BIGINT PRIMARY KEY NOT NULL CHECK (seq >= 1),
    time       BIGINT NOT NULL CHECK (time >= 0),
    kind       TEXT NOT NULL,
    body       TEXT NOT NULL,
    prev_hash  BYTEA NOT NULL CHECK (length(prev_hash) = 32),
    entry_hash BYTEA NOT NULL CHECK (length(entry_hash) = 32)
);

-- Guards against accidental changes by this program; a role that owns the
-- table can drop them, which the hash chain then exposes.
CREATE FUNCTION sealbuild_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    FOR EACH ROW EXECUTE FUNCTION sealbuild_audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION sealbuild_audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION sealbuild_audit_append_only();

-- One row per released key, written with its release audit entry.
CREATE TABLE releases (
    audit_seq            BIGINT PRIMARY KEY NOT NULL REFERENCES audit (seq),
    appraisal_seq        BIGINT NOT NULL REFERENCES audit (seq),
    key_id               TEXT NOT NULL REFERENCES keys (key_id),
    agent_id             TEXT NOT NULL CHECK (length(agent_id) BETWEEN 1 AND 256),
    ephemeral_key_digest BYTEA NOT NULL CHECK (length(ephemeral_key_digest) = 32),
    released_at          BIGINT NOT NULL CHECK (released_at >= 0)
);
CREATE INDEX releases_by_key ON releases (key_id);
CREATE INDEX releases_by_agent ON releases (agent_id);
