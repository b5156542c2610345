//! `sealbuild-tdx-sim`: the INSECURE simulated Intel TDX platform from the
//! command line, for the demo and for tests: test collateral into a
//! verifier's collateral store, quotes, and the reference values of the
//! simulated TD.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sealbuild_common::tdx::TD_ATTR_DEBUG;
use sealbuild_insecure_tdx_sim::{collateral, InsecureSimulatedTdx, SimConfig};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "sealbuild-tdx-sim",
    version,
    about = "INSECURE simulated Intel TDX (published test keys; CI and demos only)",
    long_about = "INSECURE simulated Intel TDX: quotes signed through a published test PCK chain \
(insecure/tdx-sim/test-chain) and matching test collateral. Such evidence proves nothing; only a \
verifier built with the insecure-tdx-sim feature and configured with the test root accepts it."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Writes test collateral (TCB Info, QE Identity, CRLs, issuer chains)
    /// issued now: as raw PCS responses into <STORE>/tdx/<fmspc>-platform/
    /// and/or as a JSON bundle.
    Collateral {
        /// A verifier's collateral store.
        #[arg(long)]
        store: Option<PathBuf>,
        /// A JSON bundle file (for `verify tdx --collateral`).
        #[arg(long)]
        bundle: Option<PathBuf>,
        /// Issue time, Unix seconds (default: now).
        #[arg(long)]
        at_unix: Option<u64>,
    },
    /// Writes a TD quote (and optionally the CCEL).
    Quote {
        /// REPORT_DATA, 64 bytes hex.
        #[arg(long)]
        report_data: String,
        /// RTMR3, 48 bytes hex (default zeros).
        #[arg(long)]
        rtmr3: Option<String>,
        /// MRTD, 48 bytes hex (default: the simulator's).
        #[arg(long)]
        mrtd: Option<String>,
        /// Set TDATTRIBUTES.DEBUG.
        #[arg(long)]
        debug: bool,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Also write the CCEL log area here.
        #[arg(long)]
        ccel_out: Option<PathBuf>,
    },
    /// Prints the simulated TD's reference values as JSON (mrtd, rtmr0–2,
    /// mr_seam, fmspc).
    Reference {
        /// MRTD, 48 bytes hex (default: the simulator's).
        #[arg(long)]
        mrtd: Option<String>,
    },
}

fn hex_array<const N: usize>(what: &str, s: &str) -> Result<[u8; N]> {
    let v = hex::decode(s.trim()).with_context(|| format!("{what}: not hex"))?;
    let n = v.len();
    v.try_into()
        .map_err(|_| anyhow::anyhow!("{what}: expected {N} bytes, got {n}"))
}

fn config(mrtd: Option<&str>, debug: bool) -> Result<SimConfig> {
    let mut c = SimConfig::default();
    if let Some(m) = mrtd {
        c.mr_td = hex_array("--mrtd", m)?;
    }
    if debug {
        c.td_attributes |= TD_ATTR_DEBUG;
    }
    Ok(c)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Collateral {
            store,
            bundle,
            at_unix,
        } => {
            if store.is_none() && bundle.is_none() {
                bail!("give --store DIR and/or --bundle FILE");
            }
            let c = collateral::collateral(at_unix.unwrap_or_else(now))?;
            if let Some(store) = store {
                let dir = store.join(collateral::store_subdir());
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
                for (name, bytes) in c.pcs_files() {
                    let p = dir.join(name);
                    std::fs::write(&p, bytes)
                        .with_context(|| format!("writing {}", p.display()))?;
                }
                println!("{}", dir.display());
            }
            if let Some(b) = bundle {
                std::fs::write(&b, c.bundle_json())
                    .with_context(|| format!("writing {}", b.display()))?;
                println!("{}", b.display());
            }
        }
        Cmd::Quote {
            report_data,
            rtmr3,
            mrtd,
            debug,
            out,
            ccel_out,
        } => {
            let sim = InsecureSimulatedTdx::new(config(mrtd.as_deref(), debug)?)?;
            let rd: [u8; 64] = hex_array("--report-data", &report_data)?;
            let r3: [u8; 48] = match rtmr3 {
                Some(r) => hex_array("--rtmr3", &r)?,
                None => [0; 48],
            };
            std::fs::write(&out, sim.quote(&rd, &r3)?)
                .with_context(|| format!("writing {}", out.display()))?;
            if let Some(c) = ccel_out {
                std::fs::write(&c, sim.ccel())
                    .with_context(|| format!("writing {}", c.display()))?;
            }
        }
        Cmd::Reference { mrtd } => {
            let sim = InsecureSimulatedTdx::new(config(mrtd.as_deref(), false)?)?;
            let [r0, r1, r2] = sim.boot_rtmrs();
            let v = serde_json::json!({
                "mrtd": hex::encode(sim.config().mr_td),
                "rtmr0": hex::encode(r0),
                "rtmr1": hex::encode(r1),
                "rtmr2": hex::encode(r2),
                "mr_seam": hex::encode(sealbuild_insecure_tdx_sim::mr_seam()),
                "fmspc": hex::encode(sealbuild_insecure_tdx_sim::FMSPC),
            });
            println!("{v:#}");
        }
    }
    Ok(())
}
