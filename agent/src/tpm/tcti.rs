//! How the agent reaches the TPM: a TCTI (TPM Command Transmission Interface,
//! TCG TSS 2.0 TCTI specification v1.0) chosen by a configuration string.
//!
//! Accepted forms (tpm2-tools' `--tcti` syntax, checked strictly):
//!
//! | string | meaning |
//! |---|---|
//! | `device:/dev/tpmrm0` | kernel character device; `device` alone means `/dev/tpmrm0` (the in-kernel resource manager) |
//! | `swtpm:host=127.0.0.1,port=2321` | swtpm's TCP socket interface (`port` commands, `port+1` control) |
//! | `mssim:host=…,port=…` | the Microsoft/IBM simulator protocol |
//! | `tabrmd` or `tabrmd:bus_name=…,bus_type=system` | the user-space access broker over D-Bus |
//!
//! `host` defaults to `localhost` and `port` to 2321. Unknown or repeated
//! keys, empty values and ports 0 and 65535 (the control port is `port+1`)
//! are rejected with a message naming the problem.

use crate::evidence::AgentError;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

/// Default TPM simulator port (swtpm, mssim).
pub const DEFAULT_SIMULATOR_PORT: u16 = 2321;
/// Default device when `device` is given without a path.
pub const DEFAULT_DEVICE: &str = "/dev/tpmrm0";

/// A parsed TCTI configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TctiConfig {
    /// A TPM character device.
    Device {
        /// Absolute path of the device node.
        path: PathBuf,
    },
    /// swtpm's TCP interface.
    Swtpm {
        /// Host name or IP address.
        host: String,
        /// Command port; the control port is `port + 1`.
        port: u16,
    },
    /// The MS/IBM simulator protocol.
    Mssim {
        /// Host name or IP address.
        host: String,
        /// Command port; the platform port is `port + 1`.
        port: u16,
    },
    /// tpm2-abrmd over D-Bus.
    Tabrmd {
        /// D-Bus name of the broker, if not the default.
        bus_name: Option<String>,
        /// `system` or `session`, if not the default.
        bus_type: Option<BusType>,
    },
}

/// D-Bus bus of tpm2-abrmd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusType {
    /// The system bus.
    System,
    /// The session bus.
    Session,
}

impl std::fmt::Display for TctiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Device { path } => write!(f, "device:{}", path.display()),
            Self::Swtpm { host, port } => write!(f, "swtpm:host={host},port={port}"),
            Self::Mssim { host, port } => write!(f, "mssim:host={host},port={port}"),
            Self::Tabrmd { bus_name, bus_type } => {
                f.write_str("tabrmd")?;
                let mut sep = ':';
                if let Some(n) = bus_name {
                    write!(f, "{sep}bus_name={n}")?;
                    sep = ',';
                }
                if let Some(t) = bus_type {
                    let t = match t {
                        BusType::System => "system",
                        BusType::Session => "session",
                    };
                    write!(f, "{sep}bus_type={t}")?;
                }
                Ok(())
            }
        }
    }
}

impl FromStr for TctiConfig {
    type Err = AgentError;

    fn from_str(input: &str) -> Result<Self, AgentError> {
        let err = |reason: String| AgentError::TctiConfig {
            input: input.to_string(),
            reason,
        };
        let (kind, conf) = match input.split_once(':') {
            Some((k, c)) => (k, Some(c)),
            None => (input, None),
        };
        match kind {
            "device" => {
                let path = match conf {
                    None => PathBuf::from(DEFAULT_DEVICE),
                    Some("") => return Err(err("empty device path after 'device:'".into())),
                    Some(p) if !p.starts_with('/') => {
                        return Err(err(format!("device path must be absolute, got {p:?}")))
                    }
                    Some(p) if p.contains(',') || p.contains('=') => {
                        return Err(err(format!(
                            "device path {p:?} contains ',' or '=' (options are not supported for device)"
                        )))
                    }
                    Some(p) => PathBuf::from(p),
                };
                Ok(Self::Device { path })
            }
            "swtpm" | "mssim" => {
                let mut host = None;
                let mut port = None;
                for (k, v) in key_values(conf).map_err(&err)? {
                    match k {
                        "host" => set_once(&mut host, "host", parse_host(v).map_err(&err)?)
                            .map_err(&err)?,
                        "port" => set_once(&mut port, "port", parse_port(v).map_err(&err)?)
                            .map_err(&err)?,
                        other => {
                            return Err(err(format!(
                                "unknown key {other:?} for {kind} (expected host, port)"
                            )))
                        }
                    }
                }
                let host = host.unwrap_or_else(|| "localhost".to_string());
                let port = port.unwrap_or(DEFAULT_SIMULATOR_PORT);
                Ok(if kind == "swtpm" {
                    Self::Swtpm { host, port }
                } else {
                    Self::Mssim { host, port }
                })
            }
            "tabrmd" => {
                let mut bus_name = None;
                let mut bus_type = None;
                for (k, v) in key_values(conf).map_err(&err)? {
                    match k {
                        "bus_name" => {
                            if !v
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
                            {
                                return Err(err(format!("bus_name {v:?} is not a D-Bus name")));
                            }
                            set_once(&mut bus_name, "bus_name", v.to_string()).map_err(&err)?
                        }
                        "bus_type" => {
                            let t = match v {
                                "system" => BusType::System,
                                "session" => BusType::Session,
                                other => {
                                    return Err(err(format!(
                                        "bus_type must be system or session, got {other:?}"
                                    )))
                                }
                            };
                            set_once(&mut bus_type, "bus_type", t).map_err(&err)?
                        }
                        other => {
                            return Err(err(format!(
                                "unknown key {other:?} for tabrmd (expected bus_name, bus_type)"
                            )))
                        }
                    }
                }
                Ok(Self::Tabrmd { bus_name, bus_type })
            }
            "" => Err(err("empty TCTI name".into())),
            other => Err(err(format!(
                "unknown TCTI {other:?} (expected device, swtpm, mssim or tabrmd)"
            ))),
        }
    }
}

fn key_values(conf: Option<&str>) -> Result<Vec<(&str, &str)>, String> {
    let Some(conf) = conf else {
        return Ok(Vec::new());
    };
    if conf.is_empty() {
        return Err("nothing after ':' (omit the ':' for defaults)".into());
    }
    conf.split(',')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k, v)),
            Some(("", _)) => Err(format!("empty key in {kv:?}")),
            Some((k, _)) => Err(format!("empty value for {k}")),
            None => Err(format!("expected key=value, got {kv:?}")),
        })
        .collect()
}

fn set_once<T>(slot: &mut Option<T>, key: &str, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{key} given more than once"));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_host(v: &str) -> Result<String, String> {
    if v.parse::<IpAddr>().is_ok() {
        return Ok(v.to_string());
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if v.len() <= 253 && v.split('.').all(label_ok) {
        Ok(v.to_string())
    } else {
        Err(format!(
            "host {v:?} is neither an IP address nor a host name"
        ))
    }
}

fn parse_port(v: &str) -> Result<u16, String> {
    match v.parse::<u16>() {
        Ok(0) => Err("port 0 is not a port".into()),
        Ok(u16::MAX) => Err("port 65535 leaves no room for the control port (port+1)".into()),
        Ok(p) => Ok(p),
        Err(_) => Err(format!("port {v:?} is not a number in 1..65534")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TctiConfig, String> {
        s.parse::<TctiConfig>().map_err(|e| e.to_string())
    }

    #[test]
    fn accepted_forms_and_round_trip() {
        let cases = [
            (
                "swtpm:host=127.0.0.1,port=2321",
                TctiConfig::Swtpm {
                    host: "127.0.0.1".into(),
                    port: 2321,
                },
            ),
            (
                "swtpm:port=4000,host=tpm.example",
                TctiConfig::Swtpm {
                    host: "tpm.example".into(),
                    port: 4000,
                },
            ),
            (
                "swtpm",
                TctiConfig::Swtpm {
                    host: "localhost".into(),
                    port: 2321,
                },
            ),
            (
                "mssim:host=::1,port=2321",
                TctiConfig::Mssim {
                    host: "::1".into(),
                    port: 2321,
                },
            ),
            (
                "device:/dev/tpmrm0",
                TctiConfig::Device {
                    path: "/dev/tpmrm0".into(),
                },
            ),
            (
                "device",
                TctiConfig::Device {
                    path: "/dev/tpmrm0".into(),
                },
            ),
            (
                "tabrmd",
                TctiConfig::Tabrmd {
                    bus_name: None,
                    bus_type: None,
                },
            ),
            (
                "tabrmd:bus_type=session",
                TctiConfig::Tabrmd {
                    bus_name: None,
                    bus_type: Some(BusType::Session),
                },
            ),
        ];
        for (s, want) in cases {
            let got = parse(s).unwrap();
            assert_eq!(got, want, "{s}");
            // Display gives a string that parses to the same value.
            assert_eq!(parse(&got.to_string()).unwrap(), got, "{s}");
        }
    }

    #[test]
    fn rejected_forms_say_why() {
        let cases = [
            ("", "empty TCTI name"),
            ("libtpms", "unknown TCTI \"libtpms\""),
            ("swtpm:", "nothing after ':'"),
            ("swtpm:host=127.0.0.1,prot=1", "unknown key \"prot\""),
            ("swtpm:port=1,port=2", "port given more than once"),
            ("swtpm:port=0", "port 0"),
            ("swtpm:port=65535", "port 65535"),
            ("swtpm:port=70000", "not a number"),
            ("swtpm:port=", "empty value for port"),
            ("swtpm:host=-bad", "neither an IP address nor a host name"),
            ("swtpm:host=a_b", "neither an IP address nor a host name"),
            ("swtpm:host", "expected key=value"),
            ("device:", "empty device path"),
            ("device:dev/tpm0", "must be absolute"),
            ("tabrmd:bus_type=user", "system or session"),
        ];
        for (s, want) in cases {
            let e = parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
            assert!(
                e.contains(&format!("{s:?}")),
                "{s}: error names the input: {e}"
            );
        }
    }
}
