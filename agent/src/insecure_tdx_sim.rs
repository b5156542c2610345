//! INSECURE simulated Intel TDX (feature `insecure-tdx-sim`).
//!
//! A [`TdxCollector`] whose quotes come from `sealbuild-insecure-tdx-sim`,
//! which signs them through a published test PCK chain: anyone can forge
//! such quotes, they prove nothing about a machine. They exist so that CI
//! and the demo run the whole TDX flow (collect → DCAP verification → key
//! release → provenance, with the RTMR3 runtime log) through the real
//! verification code. A verifier accepts them only when built with its own
//! `insecure-tdx-sim` feature *and* configured with the test root.
//!
//! The simulated TD lives for the life of this process: its RTMR3 starts
//! at zero, is extended by the sealed build's runtime log exactly as the
//! kernel's tsm-mr attribute extends the real one (`SHA-384(RTMR3 ‖
//! digest)`), and is what its quotes carry; RTMR0–2 are the replay of the
//! simulated firmware's CCEL, which the collector submits.

use crate::evidence::AgentError;
use crate::tdx::{CcelSource, MeasurementRegister, QuoteSource, TdxCollector};
use sealbuild_insecure_tdx_sim::{InsecureSimulatedTdx, SimConfig};
use sha2::{Digest, Sha384};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The simulated TD: the simulator and its RTMR3.
#[derive(Debug)]
struct SimTd {
    sim: InsecureSimulatedTdx,
    rtmr3: Mutex<[u8; 48]>,
}

const LOCATION: &str = "insecure-tdx-sim:RTMR3";

impl SimTd {
    fn rtmr3(&self) -> Result<[u8; 48], AgentError> {
        self.rtmr3.lock().map(|g| *g).map_err(|_| AgentError::Rtmr {
            path: PathBuf::from(LOCATION),
            reason: "the simulated register's lock was poisoned".into(),
        })
    }
}

fn sim_err(e: impl std::fmt::Display) -> AgentError {
    AgentError::InvalidArgument {
        what: "insecure TDX simulator",
        reason: e.to_string(),
    }
}

#[derive(Debug)]
struct SimQuotes(Arc<SimTd>);

impl QuoteSource for SimQuotes {
    fn get_quote(&mut self, report_data: &[u8; 64]) -> Result<Vec<u8>, AgentError> {
        let rtmr3 = self.0.rtmr3()?;
        self.0.sim.quote(report_data, &rtmr3).map_err(sim_err)
    }

    fn describe(&self) -> String {
        "INSECURE simulated TDX (published test keys)".into()
    }
}

#[derive(Debug)]
struct SimRtmr3(Arc<SimTd>);

impl MeasurementRegister for SimRtmr3 {
    fn read(&self) -> Result<[u8; 48], AgentError> {
        self.0.rtmr3()
    }

    fn extend(&self, digest: &[u8; 48]) -> Result<(), AgentError> {
        let mut reg = self.0.rtmr3.lock().map_err(|_| AgentError::Rtmr {
            path: PathBuf::from(LOCATION),
            reason: "the simulated register's lock was poisoned".into(),
        })?;
        let mut h = Sha384::new();
        h.update(*reg);
        h.update(digest);
        *reg = h.finalize().into();
        Ok(())
    }

    fn location(&self) -> PathBuf {
        PathBuf::from(LOCATION)
    }
}

#[derive(Debug)]
struct SimCcel(Arc<SimTd>);

impl CcelSource for SimCcel {
    fn read_area(&self) -> Result<Option<Vec<u8>>, AgentError> {
        Ok(Some(self.0.sim.ccel().to_vec()))
    }
}

/// A TDX collector on a simulated TD measured as `mrtd` (default: the
/// simulator's own MRTD).
pub fn collector(mrtd: Option<[u8; 48]>) -> Result<TdxCollector, AgentError> {
    let mut config = SimConfig::default();
    if let Some(m) = mrtd {
        config.mr_td = m;
    }
    collector_with(config)
}

/// A TDX collector on the simulated TD `config` describes.
pub fn collector_with(config: SimConfig) -> Result<TdxCollector, AgentError> {
    let td = Arc::new(SimTd {
        sim: InsecureSimulatedTdx::new(config).map_err(sim_err)?,
        rtmr3: Mutex::new([0; 48]),
    });
    Ok(TdxCollector::new(
        Box::new(SimQuotes(td.clone())),
        SimCcel(td.clone()),
        SimRtmr3(td),
    ))
}
