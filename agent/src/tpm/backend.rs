//! The connection to a TPM and the handle hygiene every command relies on:
//! [`TpmBackend`] opens a TCTI, creates and flushes transient objects, and
//! lists what is loaded. The commands themselves live in the sibling
//! modules (`ek`, `ak`, `quote`, `credential`).

use super::ak::AkState;
use super::ek::{EkInfo, EkSelection};
use super::{rc, AkType, TctiConfig};
use crate::evidence::AgentError;
use sealbuild_common::api::RegisterRequest;
use std::str::FromStr;
use tss_esapi::constants::CapabilityType;
use tss_esapi::handles::ObjectHandle;
use tss_esapi::structures::CapabilityData;
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::Context;

/// TPM_HT_TRANSIENT << 24 (Part 2 §7.2, Table 28).
const TRANSIENT_FIRST: u32 = 0x8000_0000;
/// TPM_HT_LOADED_SESSION << 24.
const HMAC_SESSION_FIRST: u32 = 0x0200_0000;
/// TPM_HT_SAVED_SESSION << 24.
const POLICY_SESSION_FIRST: u32 = 0x0300_0000;

/// An open connection to a TPM.
pub struct TpmBackend {
    pub(super) ctx: Context,
    tcti: TctiConfig,
}

impl std::fmt::Debug for TpmBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpmBackend")
            .field("tcti", &self.tcti.to_string())
            .finish_non_exhaustive()
    }
}

/// Handles loaded in the TPM (as TPM2_GetCapability(TPM_CAP_HANDLES) reports
/// them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadedHandles {
    /// Transient objects (0x80xxxxxx).
    pub transient: Vec<u32>,
    /// Loaded or context-saved HMAC and policy sessions (0x02xxxxxx,
    /// 0x03xxxxxx).
    pub sessions: Vec<u32>,
}

/// Result of [`TpmBackend::register`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The EK.
    pub ek: EkInfo,
    /// The new AK, to be stored with [`AkState::save`].
    pub ak: AkState,
}

impl Registration {
    /// The registration message for the verifier.
    pub fn register_request(&self) -> RegisterRequest {
        RegisterRequest {
            ek_public: self.ek.public.clone(),
            ek_certificate: self.ek.certificate.as_ref().map(|c| c.der.clone()),
            ek_intermediates: self.ek.intermediates.clone(),
            ak_public: self.ak.public.clone(),
        }
    }
}

impl TpmBackend {
    /// Connects to the TPM through `tcti`.
    pub fn open(tcti: &TctiConfig) -> Result<Self, AgentError> {
        let conf = name_conf(tcti)?;
        let ctx = Context::new(conf).map_err(|e| AgentError::TctiOpen {
            tcti: tcti.to_string(),
            detail: rc::describe(&e),
        })?;
        Ok(Self {
            ctx,
            tcti: tcti.clone(),
        })
    }

    /// The TCTI this backend was opened with.
    pub fn tcti(&self) -> &TctiConfig {
        &self.tcti
    }

    /// Creates the EK (reading its certificate) and a new AK under it, with
    /// one EK creation. Everything is flushed before returning.
    pub fn register(
        &mut self,
        ek_selection: EkSelection,
        ak_type: AkType,
    ) -> Result<Registration, AgentError> {
        let (ek_type, certificate, intermediates) = self.ek_certificates(ek_selection)?;
        let handle = self.create_ek(ek_type)?;
        let (public, name, ak) = self.with_flushed("EK", handle.into(), |s| {
            let (public, name) = s.public_and_name(handle)?;
            let ak = s.create_ak_under(handle, ek_type, ak_type)?;
            Ok((public, name, ak))
        })?;
        let ek = EkInfo {
            ek_type,
            public,
            name,
            certificate,
            intermediates,
        };
        Ok(Registration { ek, ak })
    }

    /// Lists the transient objects and sessions loaded in the TPM. Through a
    /// resource manager (`device:/dev/tpmrm0`, tabrmd) only this connection's
    /// are visible; on a direct connection (swtpm, mssim) all of them.
    pub fn loaded_handles(&mut self) -> Result<LoadedHandles, AgentError> {
        let transient = self
            .handles_from(TRANSIENT_FIRST)?
            .into_iter()
            .filter(|h| h >> 24 == TRANSIENT_FIRST >> 24)
            .collect();
        // 0x02: loaded sessions (HMAC 0x02…, policy 0x03…); 0x03: sessions
        // whose context was saved (Part 3 §30.2 TPM2_GetCapability).
        let mut sessions = self.handles_from(HMAC_SESSION_FIRST)?;
        sessions.extend(self.handles_from(POLICY_SESSION_FIRST)?);
        sessions.retain(|h| matches!(h >> 24, 0x02 | 0x03));
        sessions.sort_unstable();
        sessions.dedup();
        Ok(LoadedHandles {
            transient,
            sessions,
        })
    }

    /// TPM2_GetCapability(TPM_CAP_HANDLES) from `first` on, following
    /// moreData, up to the end of `first`'s handle type.
    pub(crate) fn handles_from(&mut self, first: u32) -> Result<Vec<u32>, AgentError> {
        let mut out = Vec::new();
        let mut next = first;
        // A TPM returns at least one handle per call while moreData is set;
        // the bound only guards against a misbehaving one.
        for _ in 0..1024 {
            let (data, more) = self
                .ctx
                .execute_without_session(|c| c.get_capability(CapabilityType::Handles, next, 64))
                .map_err(rc::cmd("GetCapability"))?;
            let CapabilityData::Handles(list) = data else {
                return Err(AgentError::UnexpectedResponse {
                    command: "GetCapability",
                    reason: "TPM_CAP_HANDLES returned another capability".into(),
                });
            };
            let handles: Vec<u32> = list.iter().map(|h| u32::from(*h)).collect();
            let Some(last) = handles.last().copied() else {
                break;
            };
            out.extend(handles);
            if !more {
                break;
            }
            next = match last.checked_add(1) {
                Some(n) => n,
                None => break,
            };
        }
        Ok(out)
    }

    /// Runs `f`, then flushes `handle` whatever `f` returned. A flush failure
    /// after success is an error; after a failure it is logged and the
    /// original error returned.
    pub(crate) fn with_flushed<T>(
        &mut self,
        what: &'static str,
        handle: ObjectHandle,
        f: impl FnOnce(&mut Self) -> Result<T, AgentError>,
    ) -> Result<T, AgentError> {
        let result = f(self);
        let flushed = self.ctx.flush_context(handle);
        match (result, flushed) {
            (Ok(v), Ok(())) => Ok(v),
            (Ok(_), Err(e)) => Err(AgentError::Flush {
                what,
                handle: u32::from(handle),
                detail: rc::describe(&e),
            }),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(fe)) => {
                tracing::warn!(
                    "flushing {what} after an error also failed: {}",
                    rc::describe(&fe)
                );
                Err(e)
            }
        }
    }
}

/// The tss-esapi form of `tcti`. Goes through tss-esapi's own parser on the
/// canonical string, which [`TctiConfig`]'s `FromStr` has already checked
/// strictly.
fn name_conf(tcti: &TctiConfig) -> Result<TctiNameConf, AgentError> {
    let canonical = match tcti {
        // tss-esapi's tabrmd parser wants both keys when any is given.
        TctiConfig::Tabrmd { bus_name, bus_type } if bus_name.is_some() || bus_type.is_some() => {
            let name = bus_name.as_deref().unwrap_or("com.intel.tss2.Tabrmd");
            let ty = match bus_type.unwrap_or(super::tcti::BusType::System) {
                super::tcti::BusType::System => "system",
                super::tcti::BusType::Session => "session",
            };
            format!("tabrmd:bus_name={name},bus_type={ty}")
        }
        other => other.to_string(),
    };
    TctiNameConf::from_str(&canonical).map_err(|e| AgentError::TctiConfig {
        input: canonical.clone(),
        reason: format!("rejected by the TSS: {}", rc::describe(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The agent runs TPM work on a blocking thread: the backend and the
    /// collector must be movable between threads.
    #[test]
    fn backend_and_collector_are_send() {
        fn send<T: Send>() {}
        send::<TpmBackend>();
        send::<super::super::TpmCollector>();
    }

    /// Every form the strict parser accepts is accepted by the TSS too.
    #[test]
    fn tss_accepts_every_canonical_form() {
        for s in [
            "swtpm:host=127.0.0.1,port=2321",
            "swtpm:port=4000,host=tpm.example",
            "swtpm",
            "mssim:host=::1,port=2321",
            "device:/dev/tpmrm0",
            "device",
            "tabrmd",
            "tabrmd:bus_type=session",
        ] {
            let tcti: TctiConfig = s.parse().unwrap();
            name_conf(&tcti).unwrap();
        }
    }
}
