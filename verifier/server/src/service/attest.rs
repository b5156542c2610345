//! The attestation path of the service: nonce, attester, statement,
//! evidence through the platform registry, policy decision, EAR, sealing,
//! and the one audit transaction. Each step is a named method of
//! [`Verifier`]; [`Verifier::attest`] runs them in order.

use super::{blocking, Verifier};
use crate::audit::{AppraisalBody, AppraisalRecord, ReleaseRecord};
use crate::error::{Result, ServerError};
use crate::nonce::NonceCheck;
use crate::store::{AgentStatus, NonceUse, PolicyRecord, Take};
use sealbuild_common::api::{AttestRequest, AttestResponse, Reason, SealedKey, Verdict};
use sealbuild_common::binding::{Binding, NONCE_LEN};
use sealbuild_common::seal;
use sealbuild_common::Platform;
use sealbuild_verifier_core::claims::{PlatformClaims, StatementClaims};
use sealbuild_verifier_core::ear::{Ear, Status, Submodule};
use sealbuild_verifier_core::platform::{Enrolment, Registered, VerifyContext};
use sealbuild_verifier_core::policy::{Appraiser, Policy};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the EAR of one decision says.
struct EarParts<'a> {
    now: u64,
    platform: Platform,
    verdict: Verdict,
    policy_id: String,
    agent_id: &'a str,
    nonce: Option<[u8; NONCE_LEN]>,
    binding: [u8; 32],
    evidence_digest: [u8; 32],
    references: Vec<String>,
    statement: Option<[u8; 32]>,
}

impl Verifier {
    /// Appraisal and key release. `source` is the caller's address (it names
    /// the source of refusals that are aggregated, see `crate::refusals`).
    pub async fn attest(
        &self,
        req: AttestRequest,
        source: Option<std::net::IpAddr>,
    ) -> Result<AttestResponse> {
        let started = std::time::Instant::now();
        let now = self.clock.now();
        let evidence_json = serde_json::to_vec(&req.evidence)
            .map_err(|e| ServerError::BadRequest(format!("evidence: {e}")))?;
        let evidence_digest = sealbuild_common::crypto::sha256(&evidence_json);
        let mut reasons: Vec<Reason> = Vec::new();

        // 1. The nonce: consumed first, whatever else happens.
        let nonce = self.take_nonce(&req, now, &mut reasons).await?;

        // 2. The attester: registered and active, or vouched for by hardware
        // (as its platform's verifier says).
        let platform = req.evidence.platform();
        let (registered, known_agent) = self.check_attester(&req, platform, &mut reasons).await?;

        // The statement, when sent, must be the one whose digest is bound.
        let (statement, statement_claims) = statement_checks(&req, &mut reasons);

        let binding = Binding {
            nonce: &nonce.unwrap_or([0u8; NONCE_LEN]),
            ephemeral_public_key: &req.ephemeral_public_key,
            statement_digest: statement.as_ref(),
        }
        .digest();

        // 3. Evidence (through the platform registry), then policy.
        let policy_rec = self.current_policy_record().await?;
        let policy = match &policy_rec {
            Some(p) => Some(self.parsed_policy(p)?),
            None => {
                reasons.push(Reason::new(
                    "policy",
                    Some("a current policy".into()),
                    Some("none".into()),
                    "no policy is loaded: nothing can be accepted".into(),
                ));
                None
            }
        };
        let claims = self
            .verify_evidence(
                &req,
                registered.as_ref(),
                &binding,
                statement,
                now,
                &mut reasons,
            )
            .await?;
        let (matched, granted) = self
            .decide_keys(
                &req,
                claims.as_ref(),
                policy.as_deref(),
                statement_claims.as_ref(),
                &mut reasons,
            )
            .await?;
        let verdict = if reasons.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Rejected
        };
        let granted = if verdict == Verdict::Rejected {
            Vec::new()
        } else {
            granted
        };

        // 4. The attestation result, signed.
        let ear = self.sign_ear(&EarParts {
            now,
            platform,
            verdict,
            policy_id: policy
                .as_ref()
                .map(|p| p.policy_id())
                .unwrap_or_else(|| "none".into()),
            agent_id: &req.agent_id,
            nonce,
            binding,
            evidence_digest,
            references: matched,
            statement,
        })?;
        let result_digest = sealbuild_common::crypto::sha256(&ear);

        // 5. Seal granted keys (before the audit commit, released only after).
        let (sealed, releases) = self.seal_granted(&req, &granted, &result_digest).await?;

        // 6. One transaction: the appraisal and every release. Keys leave
        // only after it. A rejection that concerns no registered agent and
        // no verified TEE is only counted (`crate::refusals`).
        let concerns_agent = known_agent || claims.is_some();
        let individual = verdict == Verdict::Accepted
            || !releases.is_empty()
            || (concerns_agent && self.refusals.admit_agent_rejection(&req.agent_id, now));
        if individual {
            self.record_decision(
                &req,
                now,
                verdict,
                &reasons,
                policy_rec.as_ref(),
                evidence_digest,
                result_digest,
                releases,
            )
            .await?;
        } else {
            let check = reasons.first().map_or("none", |r| r.check.as_str());
            let agent = concerns_agent.then_some(req.agent_id.as_str());
            self.refusals.record(source, check, agent, now);
        }
        if verdict == Verdict::Rejected {
            tracing::debug!(agent = %req.agent_id, reasons = reasons.len(), individual, "attestation rejected");
        }
        let released: Vec<String> = sealed.iter().map(|k| k.key_id.clone()).collect();
        self.metrics.appraisal(
            verdict == Verdict::Accepted,
            reasons.first().map_or("none", |r| r.check.as_str()),
            started.elapsed(),
            &released,
        );
        Ok(AttestResponse {
            verdict,
            reasons,
            ear,
            keys: sealed,
        })
    }

    /// Writes the appraisal entry and every release in one transaction.
    #[allow(clippy::too_many_arguments)]
    async fn record_decision(
        &self,
        req: &AttestRequest,
        now: u64,
        verdict: Verdict,
        reasons: &[Reason],
        policy_rec: Option<&PolicyRecord>,
        evidence_digest: [u8; 32],
        result_digest: [u8; 32],
        releases: Vec<ReleaseRecord>,
    ) -> Result<()> {
        let record = AppraisalRecord {
            time: now,
            enrolment: self.registry.enrolment_of(&req.agent_id),
            body: AppraisalBody {
                agent_id: req.agent_id.clone(),
                evidence_digest: hex::encode(evidence_digest),
                verdict,
                reasons: crate::audit::bounded_reasons(reasons),
                policy_id: policy_rec.map_or_else(|| "none".into(), |p| p.policy_id.clone()),
                policy_version: policy_rec.map_or(0, |p| p.version),
                policy_sha256: policy_rec.map(|p| p.sha256.clone()).unwrap_or_default(),
                result_digest: hex::encode(result_digest),
            },
        };
        let store = self.store.clone();
        blocking(move || store.record_decision(record, releases)).await?;
        Ok(())
    }

    /// The policy's decision on verified claims: matched reference sets and
    /// granted keys, restricted to keys that exist, are enabled and were
    /// asked for; every key not granted is explained (a reason naming it).
    async fn decide_keys(
        &self,
        req: &AttestRequest,
        claims: Option<&PlatformClaims>,
        policy: Option<&Policy>,
        statement_claims: Option<&StatementClaims>,
        reasons: &mut Vec<Reason>,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut matched = Vec::new();
        let mut granted = Vec::new();
        let mut policy_reasons: Vec<Reason> = Vec::new();
        if let (Some(claims), Some(policy)) = (claims, policy) {
            let a = policy.appraise(claims, statement_claims);
            let appraise_only = req.keys.as_ref().is_some_and(|k| k.is_empty());
            if reasons.is_empty()
                && a.granted_keys.is_empty()
                && (!appraise_only || a.matched_references.is_empty())
            {
                reasons.extend(a.reasons.iter().cloned());
                if reasons.is_empty() {
                    reasons.push(Reason::new(
                        "policy",
                        Some("a key grant for a matched reference set".into()),
                        Some(format!("matched: {}", a.matched_references.join(", "))),
                        "the evidence matched no reference set that grants a key".into(),
                    ));
                }
            }
            matched = a.matched_references;
            granted = a.granted_keys;
            policy_reasons = a.reasons;
        }
        // A granted key must exist and be enabled; otherwise it is not
        // granted, and the reason says why (decided before the verdict, so
        // it is audited like every other reason).
        let mut usable = Vec::new();
        for k in std::mem::take(&mut granted) {
            let store = self.store.clone();
            let kid = k.clone();
            match blocking(move || store.key(&kid)).await? {
                Some(r) if !r.disabled => usable.push(k),
                Some(_) => policy_reasons.push(
                    Reason::new(
                        "key_disabled",
                        Some(format!("key '{k}' enabled")),
                        Some("disabled".into()),
                        format!("key '{k}' is granted by policy but disabled in the key store"),
                    )
                    .for_key(&k),
                ),
                None => policy_reasons.push(
                    Reason::new(
                        "key_missing",
                        Some(format!("key '{k}' in the key store")),
                        Some("absent".into()),
                        format!("key '{k}' is granted by policy but the key store has no such key"),
                    )
                    .for_key(&k),
                ),
            }
        }
        granted = usable;
        if reasons.is_empty()
            && granted.is_empty()
            && req.keys.is_none()
            && !policy_reasons.is_empty()
        {
            reasons.extend(policy_reasons.iter().cloned());
        }
        // Only the keys asked for; asking for one the policy does not grant
        // is a rejection that names it.
        if let Some(wanted) = &req.keys {
            if reasons.is_empty() {
                for k in wanted {
                    if !granted.contains(k) {
                        // The policy's own explanation for this key first.
                        reasons.extend(
                            policy_reasons
                                .iter()
                                .filter(|r| r.key.as_deref() == Some(k.as_str()))
                                .cloned(),
                        );
                        reasons.push(Reason::new(
                            "key_request",
                            Some(format!("key '{k}' granted by policy")),
                            Some(format!("granted: [{}]", granted.join(", "))),
                            format!("key '{k}' was requested but the policy does not grant it for this evidence"),
                        )
                        .for_key(k));
                    }
                }
            }
            granted.retain(|k| wanted.contains(k));
        }
        Ok((matched, granted))
    }

    /// Signs the EAR of a decision with the result key.
    fn sign_ear(&self, p: &EarParts<'_>) -> Result<Vec<u8>> {
        let mut tv = BTreeMap::new();
        let (status, tier) = match p.verdict {
            Verdict::Accepted => (Status::Affirming, 2i8),
            Verdict::Rejected => (Status::Contraindicated, 96i8),
        };
        tv.insert(0u8, tier); // instance-identity
        tv.insert(1u8, tier); // configuration
        tv.insert(2u8, tier); // executables
        tv.insert(4u8, tier); // hardware
        let mut submods = BTreeMap::new();
        submods.insert(
            p.platform.name().to_string(),
            Submodule {
                status,
                trust_vector: tv,
                policy_id: p.policy_id.clone(),
                agent_id: p.agent_id.to_string(),
                binding: p.binding.to_vec(),
                evidence_digest: p.evidence_digest.to_vec(),
                references: p.references.clone(),
                statement_digest: p.statement.map(|s| s.to_vec()),
            },
        );
        Ok(Ear {
            iat: p.now,
            nonce: p.nonce.map(|n| n.to_vec()).unwrap_or_default(),
            verifier_build: format!("sealbuild-verifier {}", env!("CARGO_PKG_VERSION")),
            verifier_developer: "sealbuild".into(),
            submods,
        }
        .sign(&self.result_key.signer, &self.result_key.key_id)
        .map_err(sealbuild_verifier_core::Error::from)?)
    }

    /// Seals every granted key to the attested ephemeral key (HPKE, AAD =
    /// the EAR digest) and the release records of the one audit transaction.
    async fn seal_granted(
        &self,
        req: &AttestRequest,
        granted: &[String],
        result_digest: &[u8; 32],
    ) -> Result<(Vec<SealedKey>, Vec<ReleaseRecord>)> {
        let result_digest = *result_digest;
        let mut sealed = Vec::new();
        let mut releases = Vec::new();
        let eph_digest = sealbuild_common::crypto::sha256(&req.ephemeral_public_key);
        for key_id in granted {
            let store = self.store.clone();
            let kid = key_id.clone();
            let Some(record) = blocking(move || store.key(&kid)).await? else {
                return Err(ServerError::Store(format!(
                    "policy grants key '{key_id}' but the key store has no such key"
                )));
            };
            if record.disabled {
                continue;
            }
            let secret = self
                .keys
                .unseal(&record)
                .map_err(|e| ServerError::Key(e.to_string()))?;
            let s = seal::seal(
                &req.ephemeral_public_key,
                key_id,
                &secret,
                &result_digest,
                &mut rand::rngs::OsRng,
            )
            .map_err(sealbuild_verifier_core::Error::from)?;
            sealed.push(SealedKey {
                key_id: key_id.clone(),
                algorithm: record.public.algorithm.as_str().to_string(),
                public_key_pem: record.public.public_key_pem.clone(),
                enc: s.enc,
                ciphertext: s.ciphertext,
            });
            releases.push(ReleaseRecord {
                key_id: key_id.clone(),
                ephemeral_key_digest: eph_digest,
                result_digest,
            });
        }

        Ok((sealed, releases))
    }

    /// Step 1 of [`Verifier::attest`]: consumes the nonce (exactly once,
    /// whatever else happens) and says why it is not acceptable.
    async fn take_nonce(
        &self,
        req: &AttestRequest,
        now: u64,
        reasons: &mut Vec<Reason>,
    ) -> Result<Option<[u8; NONCE_LEN]>> {
        let nonce_bytes = hex::decode(&req.nonce).ok();
        let nonce: Option<[u8; NONCE_LEN]> = nonce_bytes.as_deref().and_then(|b| b.try_into().ok());
        match nonce {
            None => reasons.push(Reason::new(
                "nonce",
                Some(format!("{NONCE_LEN} bytes of hex")),
                Some(req.nonce.chars().take(80).collect()),
                "nonce is not 32 bytes of hex".into(),
            )),
            Some(n) => match self.nonces.check(&n, &req.agent_id, now) {
                NonceCheck::NotIssued => reasons.push(Reason::new(
                    "nonce",
                    Some(format!("a nonce this verifier issued to {}", req.agent_id)),
                    Some(req.nonce.clone()),
                    format!(
                        "nonce was never issued by this verifier to agent {} (or it was altered)",
                        req.agent_id
                    ),
                )),
                NonceCheck::Expired { expires_at } => reasons.push(Reason::new(
                    "nonce",
                    Some(format!("use before {expires_at}")),
                    Some(format!("used at {now}")),
                    format!(
                        "nonce expired at {expires_at} ({} s before this attestation)",
                        now.saturating_sub(expires_at)
                    ),
                )),
                NonceCheck::Valid { expires_at } => {
                    let store = self.store.clone();
                    let used = NonceUse {
                        nonce: n.to_vec(),
                        agent_id: req.agent_id.clone(),
                        issued_at: expires_at.saturating_sub(self.config.nonce_ttl_secs),
                        expires_at,
                    };
                    match blocking(move || store.take_nonce(&used, now)).await? {
                        Take::Taken(_) => {}
                        Take::AlreadyUsed(r) => reasons.push(Reason::new(
                            "nonce",
                            Some("an unused nonce".into()),
                            Some(format!("used at {}", r.used_at.unwrap_or(0))),
                            format!(
                                "nonce was already used at {} (replayed evidence)",
                                r.used_at.unwrap_or(0)
                            ),
                        )),
                        // The store reports only first and later uses.
                        Take::NotFound | Take::Expired(_) => reasons.push(Reason::new(
                            "nonce",
                            Some("an unused nonce".into()),
                            Some("no record of its use".into()),
                            "the store could not record this nonce's use".into(),
                        )),
                    }
                }
            },
        }

        Ok(nonce)
    }

    /// Step 2 of [`Verifier::attest`]: the attester as its platform knows
    /// it. Registered platforms need an active agent (its AK is known only
    /// through registration); hardware-vouched ones an id `<platform>:<label>`.
    async fn check_attester(
        &self,
        req: &AttestRequest,
        platform: Platform,
        reasons: &mut Vec<Reason>,
    ) -> Result<(Option<Registered>, bool)> {
        let enrolment = match self.registry.get(platform) {
            Ok(v) => v.enrolment(),
            Err(r) => {
                reasons.push(r);
                return Ok((None, false));
            }
        };
        if enrolment == Enrolment::Hardware {
            if self.registry.hardware_attester(&req.agent_id) != Some(platform) {
                reasons.push(Reason::new(
                    "agent",
                    Some(format!("{platform}:<label>")),
                    Some(req.agent_id.chars().take(80).collect()),
                    format!(
                        "{platform} evidence is sent under an agent id '{platform}:<label>', not '{}'",
                        req.agent_id.chars().take(80).collect::<String>()
                    ),
                ));
            }
            return Ok((None, false));
        }
        let store = self.store.clone();
        let aid = req.agent_id.clone();
        match blocking(move || store.agent(&aid)).await? {
            None => {
                reasons.push(Reason::new(
                    "agent",
                    Some("a registered agent".into()),
                    Some(req.agent_id.chars().take(80).collect()),
                    format!(
                        "agent {} is not registered",
                        req.agent_id.chars().take(80).collect::<String>()
                    ),
                ));
                Ok((None, false))
            }
            Some(a) if a.status != AgentStatus::Active => {
                reasons.push(Reason::new(
                    "agent",
                    Some("active".into()),
                    Some(a.status.to_string()),
                    format!(
                        "agent {}: its AK never completed activation (ActivateCredential)",
                        a.agent_id
                    ),
                ));
                Ok((None, true))
            }
            Some(a) => {
                let (ek_root_fingerprint, ek_root_subject) =
                    split_root_record(a.ek_issuer.as_deref());
                Ok((
                    Some(Registered {
                        ak_public: a.ak_public,
                        ek_root_fingerprint,
                        ek_root_subject,
                    }),
                    true,
                ))
            }
        }
    }

    /// The stored policy, parsed once per version (the appraiser is built
    /// when a new version is first seen, not on every attestation).
    fn parsed_policy(&self, rec: &PolicyRecord) -> Result<Arc<Policy>> {
        let mut cache = self
            .policy_cache
            .lock()
            .map_err(|_| ServerError::Store("policy cache poisoned".into()))?;
        if let Some((version, p)) = cache.as_ref() {
            if *version == rec.version {
                return Ok(p.clone());
            }
        }
        let parsed = Arc::new(
            Policy::parse(&rec.document)
                .map_err(|e| ServerError::Store(format!("stored policy no longer parses: {e}")))?,
        );
        *cache = Some((rec.version, parsed.clone()));
        Ok(parsed)
    }

    /// Step 3 of [`Verifier::attest`]: the platform's verifier, with the
    /// collateral its evidence needs (gathered off the async workers), and
    /// the CPU-bound verification on the blocking pool too.
    async fn verify_evidence(
        &self,
        req: &AttestRequest,
        registered: Option<&Registered>,
        binding: &[u8; 32],
        statement: Option<[u8; 32]>,
        now: u64,
        reasons: &mut Vec<Reason>,
    ) -> Result<Option<PlatformClaims>> {
        let platform = req.evidence.platform();
        let verifier = match self.registry.get(platform) {
            Ok(v) => v,
            Err(_) => return Ok(None), // named by check_attester
        };
        if verifier.enrolment() == Enrolment::Registration && registered.is_none() {
            return Ok(None); // the attester's reason is already recorded
        }
        let need = verifier.collateral_need(&req.evidence);
        let store = self.collateral.clone();
        let collateral = tokio::task::spawn_blocking(move || {
            crate::evidence::gather_collateral(&need, store.as_deref())
        })
        .await
        .map_err(|e| ServerError::Store(format!("collateral task: {e}")))?;
        // At most one verification per core at a time: a burst queues here
        // instead of filling the blocking pool.
        self.verify_waiting
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slot = self.verify_slots.clone().acquire_owned().await;
        self.verify_waiting
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        let slot =
            slot.map_err(|e| ServerError::Store(format!("verification slots closed: {e}")))?;
        let registry = self.registry.clone();
        let evidence = req.evidence.clone();
        let agent_id = req.agent_id.clone();
        let registered = registered.cloned();
        let binding = *binding;
        let result = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let v = registry.get(platform).map_err(|r| vec![r])?;
            v.verify(
                &evidence,
                &VerifyContext {
                    agent_id: &agent_id,
                    registered: registered.as_ref(),
                    binding: &binding,
                    statement_digest: statement,
                    now,
                    collateral: &collateral,
                },
            )
        })
        .await
        .map_err(|e| ServerError::Store(format!("verification task: {e}")))?;
        match result {
            Ok(c) => Ok(Some(c)),
            Err(mut r) => {
                reasons.append(&mut r);
                Ok(None)
            }
        }
    }
}

/// The statement checks of [`Verifier::attest`]: the bound digest parses, and
/// a statement sent along hashes to it; returns the digest and, for a valid
/// statement, what a policy may see of it.
fn statement_checks(
    req: &AttestRequest,
    reasons: &mut Vec<Reason>,
) -> (Option<[u8; 32]>, Option<StatementClaims>) {
    let statement: Option<[u8; 32]> = match &req.statement_digest {
        None => None,
        Some(h) => match hex::decode(h)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
        {
            Some(d) => Some(d),
            None => {
                reasons.push(Reason::new(
                    "statement",
                    Some("32 bytes of hex".into()),
                    Some(h.chars().take(80).collect()),
                    "statement digest is not a SHA-256 in hex".into(),
                ));
                None
            }
        },
    };
    // The statement itself, when sent, must be the one whose digest is bound.
    let statement_claims = match (&req.statement, statement) {
        (None, _) => None,
        (Some(_), None) => {
            reasons.push(Reason::new(
                "statement",
                Some("statement_digest with the statement".into()),
                Some("no statement_digest".into()),
                "a statement was sent without its digest".into(),
            ));
            None
        }
        (Some(payload), Some(d)) => {
            let seen: [u8; 32] = sealbuild_common::crypto::sha256(payload);
            if seen != d {
                reasons.push(Reason::new(
                    "statement",
                    Some(hex::encode(d)),
                    Some(hex::encode(seen)),
                    format!(
                        "the statement sent hashes to {}, not to the bound digest {}",
                        hex::encode(seen),
                        hex::encode(d)
                    ),
                ));
                None
            } else {
                match sealbuild_verifier_core::appraise::statement_claims(payload) {
                    Ok(c) => Some(c),
                    Err(r) => {
                        reasons.push(r);
                        None
                    }
                }
            }
        }
    };
    (statement, statement_claims)
}

/// The agent record keeps the EK trust anchor as `sha256:<hex> <subject>`.
fn split_root_record(rec: Option<&str>) -> (Option<String>, Option<String>) {
    match rec {
        None => (None, None),
        Some(s) => match s.strip_prefix("sha256:").and_then(|r| r.split_once(' ')) {
            Some((fp, subject)) => (Some(fp.to_string()), Some(subject.to_string())),
            None => (None, Some(s.to_string())),
        },
    }
}
