//! `serve`, `keys`, `policy` and `audit`: commands over the verifier's state.
//! They work on the database directly (filesystem permissions are the
//! authorisation); a running service is managed through the admin API.

use crate::{Outcome, StateArgs};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use sealbuild_verifier::audit::{list_json, verify_store, AuditHead};
use sealbuild_verifier::clock::SystemClock;
use sealbuild_verifier::config::{load_ca_dir, Config, StoreLocation};
use sealbuild_verifier::keys::{KeyAlgorithm, KeyError, KeyManager, MasterKey};
use sealbuild_verifier::resultkey::ResultKey;
use sealbuild_verifier::service::Verifier;
use sealbuild_verifier::store::SqliteStore;
use sealbuild_verifier::store::Store;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Listen address (overrides the configuration), e.g. 127.0.0.1:8443 or 127.0.0.1:0.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Directory of TPM manufacturer CAs (overrides the configuration).
    #[arg(long)]
    ek_ca_dir: Option<PathBuf>,
    /// Write the bound address to this file once listening (for scripts using port 0).
    #[arg(long)]
    address_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Generates a key in the key store.
    Generate {
        /// ed25519, ecdsa-p256 or ecdsa-p384.
        #[arg(long, default_value = "ed25519")]
        algorithm: String,
        /// Key id (default: derived from the public key).
        #[arg(long)]
        id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Imports an unencrypted PKCS#8 private key (PEM or DER).
    Import {
        /// The key file.
        file: PathBuf,
        /// Key id (default: derived from the public key).
        #[arg(long)]
        id: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists keys (public halves).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCmd {
    /// Checks a policy document and makes it current.
    Set {
        /// TOML or JSON policy (format v1).
        file: PathBuf,
    },
    /// Checks a policy document without storing it.
    Check {
        /// TOML or JSON policy (format v1).
        file: PathBuf,
    },
    /// Prints the current policy.
    Show {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Verifies the hash chain and prints the head.
    Verify {
        /// A head recorded earlier (`SEQ:HEX`) that the log must still contain.
        #[arg(long)]
        checkpoint: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lists entries.
    List {
        /// First sequence number.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Most entries to print.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Copies an embedded (SQLite) database into a new, empty PostgreSQL
    /// database: audit chain, keys, agents, policy versions, releases. Both
    /// audit logs are verified to the same head; the copy is recorded as a
    /// notice in the destination.
    Copy {
        /// The source, `sqlite:PATH`.
        #[arg(long)]
        from: String,
        /// The destination, `postgres://USER:PASSWORD@HOST:PORT/DB`
        /// (default: the configured database_url / SEALBUILD_DATABASE_URL).
        #[arg(long)]
        to: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn db(state: &StateArgs, cmd: DbCmd) -> Result<Outcome> {
    let cfg = state.load()?;
    match cmd {
        DbCmd::Copy { from, to, json } => {
            let Some(src) = from.strip_prefix("sqlite:") else {
                bail!("--from must be sqlite:PATH, got '{from}'");
            };
            let to = match to {
                Some(t) => t,
                None => match &cfg.database_url {
                    Some(u) => u.expose().to_string(),
                    None => bail!(
                        "--to postgres://… (or database_url / SEALBUILD_DATABASE_URL) is required"
                    ),
                },
            };
            let redacted = sealbuild_verifier::store::redact_url(&to);
            if !sealbuild_verifier::store::is_postgres_url(&to) {
                bail!("--to must be a postgres:// or postgresql:// URL, got {redacted}");
            }
            let dst = sealbuild_verifier::store::PgStore::connect(&to, cfg.pg_options())
                .with_context(|| format!("opening {redacted}"))?;
            let now = sealbuild_verifier::clock::Clock::now(&SystemClock);
            let report = dst
                .copy_from_sqlite(std::path::Path::new(src), now)
                .with_context(|| format!("copying sqlite:{src} to {redacted}"))?;
            if json {
                out!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                out!(
                    "copied sqlite:{src} to {redacted}: {} audit entries (head {}), {} keys, \
                     {} agents, {} policy versions, {} releases, {} challenges, {} used nonces; \
                     both audit logs verify to that head",
                    report.audit_entries,
                    report.head,
                    report.keys,
                    report.agents,
                    report.policies,
                    report.releases,
                    report.challenges,
                    report.nonces
                );
            }
            Ok(Outcome::Ok)
        }
    }
}

fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    let path = match cfg.store_location() {
        StoreLocation::Sqlite(path) => path,
        StoreLocation::Postgres(url) => {
            let redacted = url.redacted();
            return cfg
                .open_store()
                .with_context(|| format!("opening the database {redacted}"));
        }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // The database holds sealed keys and the audit log: private from birth
    // (SQLite gives its WAL and shared-memory files the database's mode).
    sealbuild_verifier::tls::create_private_if_missing(&path)?;
    Ok(Arc::new(
        SqliteStore::open(&path)
            .with_context(|| format!("opening the database {}", path.display()))?,
    ) as Arc<dyn Store>)
}

/// The master key: configured file, then `SEALBUILD_MASTER_KEY`, then
/// `state_dir/master.key` (created on first use).
pub fn master_key(cfg: &Config) -> Result<MasterKey> {
    if let Some(p) = &cfg.master_key_file {
        return Ok(MasterKey::from_file(p)?);
    }
    if let Some(k) = MasterKey::from_env()? {
        return Ok(k);
    }
    let p = cfg.state_dir.join("master.key");
    if p.exists() {
        Ok(MasterKey::from_file(&p)?)
    } else {
        std::fs::create_dir_all(&cfg.state_dir)
            .with_context(|| format!("creating {}", cfg.state_dir.display()))?;
        Ok(MasterKey::generate_to_file(&p)?)
    }
}

/// Start-up refuses secret files others can read: the database (and its WAL),
/// the result key, the TLS keys and the admin token file. (The master key
/// file is checked when it is read.)
fn check_secret_files(cfg: &Config, tls: &sealbuild_verifier::tls::TlsFiles) -> Result<()> {
    use sealbuild_verifier::tls::check_private;
    let mut files = Vec::new();
    if let StoreLocation::Sqlite(db) = cfg.store_location() {
        files.push((db.clone(), "the database"));
        files.push((
            std::path::PathBuf::from(format!("{}-wal", db.display())),
            "the database's write-ahead log",
        ));
    }
    files.extend([
        (
            cfg.state_dir.join("result-key.pem"),
            "the result signing key",
        ),
        (tls.key.clone(), "the TLS key"),
        (cfg.state_dir.join("tls/ca.key"), "the local CA key"),
    ]);
    if let Some(t) = &cfg.admin_token_file {
        files.push((t.clone(), "the admin token"));
    }
    for (path, what) in files {
        check_private(&path, what)?;
    }
    Ok(())
}

fn admin_token(cfg: &Config) -> Result<Option<String>> {
    if let Some(p) = &cfg.admin_token_file {
        return Ok(Some(
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        ));
    }
    Ok(std::env::var("SEALBUILD_ADMIN_TOKEN").ok())
}

/// Threads of the server's blocking pool (storage calls, verification).
const MAX_BLOCKING_THREADS: usize = 64;

pub fn serve(state: &StateArgs, a: ServeArgs) -> Result<Outcome> {
    let mut cfg = state.load()?;
    if let Some(l) = a.listen {
        cfg.listen = l;
    }
    if let Some(d) = a.ek_ca_dir {
        cfg.ek_ca_dir = Some(d);
    }
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("creating {}", cfg.state_dir.display()))?;
    let anchors = match &cfg.ek_ca_dir {
        Some(d) => load_ca_dir(d)?,
        None => {
            tracing::warn!("no ek_ca_dir configured: only allowlisted EKs can register");
            Vec::new()
        }
    };
    let store = open_store(&cfg)?;
    match cfg.store_location() {
        StoreLocation::Sqlite(p) => tracing::info!(database = %p.display(), "store: SQLite"),
        StoreLocation::Postgres(u) => {
            tracing::info!(database = %u.redacted(), "store: PostgreSQL (shared by replicas)")
        }
    }
    let keys = KeyManager::new(master_key(&cfg)?);
    let result_key = ResultKey::load_or_create(&cfg.state_dir)?;
    let tls_files = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => sealbuild_verifier::tls::TlsFiles {
            cert: c.clone(),
            key: k.clone(),
            ca: None,
        },
        _ => sealbuild_verifier::tls::ensure_local_tls(&cfg.state_dir, &cfg.tls_names)?,
    };
    let tls = sealbuild_verifier::tls::server_config(&tls_files)?;
    check_secret_files(&cfg, &tls_files)?;
    let token = admin_token(&cfg)?;
    let purge_store = store.clone();
    let verifier = Arc::new(Verifier::new(
        store,
        Arc::new(SystemClock),
        keys,
        result_key,
        anchors,
        token,
        cfg.clone(),
    )?);
    // Storage calls and evidence verification run on the blocking pool; cap
    // it (tokio's default is 512 threads) so a burst queues instead of
    // growing threads and memory. Idle blocking threads exit after 10 s.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(MAX_BLOCKING_THREADS)
        .thread_keep_alive(sealbuild_verifier::memory::BLOCKING_THREAD_KEEP_ALIVE)
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let running =
            sealbuild_verifier::http::serve_with(verifier, cfg.listen, tls, cfg.http_limits())
                .await?;
        tracing::info!(addr = %running.addr, "sealbuild-verifier listening (HTTPS)");
        if let Some(ca) = &tls_files.ca {
            tracing::info!(ca = %ca.display(), "agents trust this CA");
        }
        if let Some(f) = &a.address_file {
            std::fs::write(f, running.addr.to_string())
                .with_context(|| format!("writing {}", f.display()))?;
        }
        // Used nonces go once expired (an expired nonce is refused by its
        // own bytes), every minute; expired challenges and abandoned pending
        // registrations a day after they expire.
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            let mut round = 0u64;
            loop {
                tick.tick().await;
                let now = sealbuild_verifier::clock::Clock::now(&SystemClock);
                let s = purge_store.clone();
                let full = round % 10 == 0;
                round += 1;
                let r = tokio::task::spawn_blocking(move || {
                    let nonces = s.purge_used_nonces(now)?;
                    let rest = if full {
                        Some(s.purge_expired(now.saturating_sub(86_400))?)
                    } else {
                        None
                    };
                    Ok::<_, sealbuild_verifier::store::StoreError>((nonces, rest))
                })
                .await;
                match r {
                    Ok(Ok(r)) => tracing::debug!(?r, "purged expired state"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "purging expired state failed"),
                    Err(e) => tracing::warn!(error = %e, "purge task failed"),
                }
            }
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
        tracing::info!("stopping");
        running.stop().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Outcome::Ok)
}

pub fn keys(state: &StateArgs, cmd: KeysCmd) -> Result<Outcome> {
    let cfg = state.load()?;
    let store = open_store(&cfg)?;
    let now = sealbuild_verifier::clock::Clock::now(&SystemClock);
    let print = |info: &sealbuild_verifier::keys::PublicKeyInfo, json: bool| -> Result<()> {
        if json {
            out!("{}", serde_json::to_string_pretty(info)?);
        } else {
            out!(
                "{} {} sha256:{}\n{}",
                info.key_id,
                info.algorithm.as_str(),
                info.fingerprint,
                info.public_key_pem.trim_end()
            );
        }
        Ok(())
    };
    match cmd {
        KeysCmd::Generate {
            algorithm,
            id,
            json,
        } => {
            let km = KeyManager::new(master_key(&cfg)?);
            let new = km.generate(
                KeyAlgorithm::from_name(&algorithm)
                    .ok_or_else(|| KeyError::UnknownAlgorithm(algorithm.clone()))?,
                id.as_deref(),
            )?;
            let rec = store.insert_key(&new, now)?;
            print(&rec.public, json)?;
        }
        KeysCmd::Import { file, id, json } => {
            let km = KeyManager::new(master_key(&cfg)?);
            let bytes = zeroize::Zeroizing::new(
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?,
            );
            let new = km.import_pkcs8(&bytes, id.as_deref())?;
            let rec = store.insert_key(&new, now)?;
            print(&rec.public, json)?;
        }
        KeysCmd::List { json } => {
            let keys: Vec<_> = store.list_keys()?.iter().map(|k| k.summary()).collect();
            if json {
                out!("{}", serde_json::to_string_pretty(&keys)?);
            } else {
                for k in keys {
                    out!(
                        "{} {} sha256:{}{}",
                        k.public.key_id,
                        k.public.algorithm.as_str(),
                        k.public.fingerprint,
                        if k.disabled { " (disabled)" } else { "" }
                    );
                }
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn policy(state: &StateArgs, cmd: PolicyCmd) -> Result<Outcome> {
    let cfg = state.load()?;
    match cmd {
        PolicyCmd::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let p = sealbuild_verifier_core::policy::Policy::parse(&text)?;
            out!(
                "ok: {} reference set(s), {} key grant(s), id sha256:{}",
                p.references.len(),
                p.keys.len(),
                p.digest
            );
        }
        PolicyCmd::Set { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let p = sealbuild_verifier_core::policy::Policy::parse(&text)?;
            let store = open_store(&cfg)?;
            for k in p.key_ids() {
                if store.key(k)?.is_none() {
                    bail!("policy grants key '{k}', which the key store does not hold");
                }
            }
            let now = sealbuild_verifier::clock::Clock::now(&SystemClock);
            let rec = store.put_policy(
                &sealbuild_verifier::store::NewPolicy {
                    policy_id: sealbuild_verifier::service::POLICY_ID.into(),
                    document: text,
                    make_current: true,
                },
                now,
            )?;
            out!(
                "policy version {} is current (sha256:{})",
                rec.version,
                rec.sha256
            );
        }
        PolicyCmd::Show { json } => {
            let store = open_store(&cfg)?;
            match store.current_policy()? {
                None => bail!("no policy is loaded"),
                Some(p) if json => out!("{}", serde_json::to_string_pretty(&p)?),
                Some(p) => print!("{}", p.document),
            }
        }
    }
    Ok(Outcome::Ok)
}

pub fn audit(state: &StateArgs, cmd: AuditCmd) -> Result<Outcome> {
    let cfg = state.load()?;
    if let StoreLocation::Sqlite(path) = cfg.store_location() {
        if !path.exists() {
            bail!("no database at {}", path.display());
        }
    }
    let store = open_store(&cfg)?;
    match cmd {
        AuditCmd::Verify { checkpoint, json } => {
            let cp = checkpoint.map(|c| AuditHead::parse(&c)).transpose()?;
            match verify_store(store.as_ref(), cp) {
                Ok(report) => {
                    if json {
                        out!("{}", serde_json::to_string_pretty(&report)?);
                    } else {
                        out!(
                            "audit log ok: {} entries, head {}",
                            report.entries,
                            report.head
                        );
                    }
                    Ok(Outcome::Ok)
                }
                Err(sealbuild_verifier::audit::AuditVerifyError::Chain(e)) => {
                    if json {
                        out!(
                            "{}",
                            serde_json::json!({"verdict": "rejected", "reason": e.to_string()})
                        );
                    } else {
                        out!("audit log BROKEN: {e}");
                    }
                    Ok(Outcome::Rejected)
                }
                Err(e) => Err(e.into()),
            }
        }
        AuditCmd::List { from, limit, json } => {
            let entries = list_json(store.as_ref(), from, limit)?;
            if json {
                out!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in entries {
                    out!("{}", serde_json::to_string(&e)?);
                }
            }
            Ok(Outcome::Ok)
        }
    }
}
