-- Schema version 2: nonces and key releases may name SEV-SNP attesters. Their
-- agent ids start with "snp:" and name no registered agent (an SNP report is
-- signed by a key AMD certifies; there is no AK to register), so the nonce
-- table no longer references the agents table. The service still requires a
-- registered, active agent for every other id.
CREATE TABLE nonces_v2 (
    nonce      BLOB PRIMARY KEY NOT NULL CHECK (length(nonce) BETWEEN 1 AND 64),
    agent_id   TEXT NOT NULL CHECK (length(agent_id) BETWEEN 1 AND 256),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at INTEGER NOT NULL CHECK (expires_at >= 0),
    used_at    INTEGER CHECK (used_at >= 0)
) STRICT;
INSERT INTO nonces_v2 (nonce, agent_id, created_at, expires_at, used_at)
    SELECT nonce, agent_id, created_at, expires_at, used_at FROM nonces;
DROP TABLE nonces;
ALTER TABLE nonces_v2 RENAME TO nonces;
CREATE INDEX nonces_by_agent ON nonces (agent_id);
CREATE INDEX nonces_by_expiry ON nonces (expires_at);

-- Releases to SEV-SNP attesters name no registered agent either.
CREATE TABLE releases_v2 (
    audit_seq            INTEGER PRIMARY KEY NOT NULL REFERENCES audit (seq),
    appraisal_seq        INTEGER NOT NULL REFERENCES audit (seq),
    key_id               TEXT NOT NULL REFERENCES keys (key_id),
    agent_id             TEXT NOT NULL CHECK (length(agent_id) BETWEEN 1 AND 256),
    ephemeral_key_digest BLOB NOT NULL CHECK (length(ephemeral_key_digest) = 32),
    released_at          INTEGER NOT NULL CHECK (released_at >= 0)
) STRICT;
INSERT INTO releases_v2 (audit_seq, appraisal_seq, key_id, agent_id, ephemeral_key_digest, released_at)
    SELECT audit_seq, appraisal_seq, key_id, agent_id, ephemeral_key_digest, released_at FROM releases;
DROP TABLE releases;
ALTER TABLE releases_v2 RENAME TO releases;
CREATE INDEX releases_by_key ON releases (key_id);
CREATE INDEX releases_by_agent ON releases (agent_id);
