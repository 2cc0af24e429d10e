//! Which isolation this machine allows, found once per process by asking the kernel, and the
//! one-line description ponder shows (in `ponder doctor` and the session header) and records.
//!
//! Invariant: model code counts as *contained* only with a private network namespace (no
//! network) and a file system confinement that limits both reads and writes: Landlock from ABI
//! v3 on (earlier versions cannot refuse truncating a file), or bubblewrap. Anything less is
//! reported as what it is, and model code then runs only when the user passed
//! `--allow-unsandboxed`. `PONDER_SANDBOX=landlock` or `=bubblewrap` forces one mechanism
//! (`auto`, the default, prefers Landlock).

use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;

use super::confine::Confinement;
use super::run::{self, RunSpec};

/// The oldest Landlock ABI that confines files: v3 refuses truncation outside the worktree.
pub const MIN_LANDLOCK_ABI: u32 = 3;

/// The variable that chooses the mechanism.
pub const BACKEND_VAR: &str = "PONDER_SANDBOX";

/// Which file system confinement to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Landlock when the kernel's is recent enough, else bubblewrap.
    Auto,
    Landlock,
    Bubblewrap,
}

impl Backend {
    /// The mechanism `PONDER_SANDBOX` asks for (`auto` when unset).
    pub fn from_env() -> Result<Backend> {
        let value = std::env::var(BACKEND_VAR).unwrap_or_default();
        Ok(match value.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Backend::Auto,
            "landlock" => Backend::Landlock,
            "bubblewrap" | "bwrap" => Backend::Bubblewrap,
            other => bail!(
                "{BACKEND_VAR}={other} is not a sandbox ponder knows: use auto, landlock or \
                 bubblewrap"
            ),
        })
    }
}

/// The isolation mechanisms a sandboxed run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Isolation {
    /// A user namespace: host capabilities dropped, process limit counted per sandbox.
    pub user_ns: bool,
    /// A private network namespace with only loopback.
    pub net_ns: bool,
    /// A private pid namespace: every process dies when the command does.
    pub pid_ns: bool,
    /// Landlock ABI version used to limit reads and writes, if any.
    pub landlock_abi: Option<u32>,
    /// bubblewrap builds the run's file system (and its network and pid namespaces).
    pub bubblewrap: bool,
}

impl Isolation {
    /// Process hygiene only: process group, limits, allow-listed environment.
    pub const NONE: Isolation = Isolation {
        user_ns: false,
        net_ns: false,
        pid_ns: false,
        landlock_abi: None,
        bubblewrap: false,
    };

    /// The best isolation this machine offers with the mechanism `PONDER_SANDBOX` asks for
    /// (auto when unset or unknown), probed once (a few milliseconds) and cached.
    pub fn detect() -> Isolation {
        Isolation::detect_with(Backend::from_env().unwrap_or(Backend::Auto))
    }

    /// The best isolation this machine offers with `backend`, probed once and cached.
    pub fn detect_with(backend: Backend) -> Isolation {
        static DETECTED: [OnceLock<Isolation>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let slot = match backend {
            Backend::Auto => 0,
            Backend::Landlock => 1,
            Backend::Bubblewrap => 2,
        };
        *DETECTED[slot].get_or_init(|| probe(backend))
    }

    /// True when the file system confinement limits reads and writes.
    fn confines_files(&self) -> bool {
        self.bubblewrap || self.landlock_abi.is_some_and(|abi| abi >= MIN_LANDLOCK_ABI)
    }

    /// True when model code has no network, reads only its worktree, the system and its tools,
    /// and writes only inside its worktree and temp dir.
    pub fn is_contained(&self) -> bool {
        self.net_ns && self.confines_files()
    }

    /// What a user reads: the mechanisms used, and what is missing when not contained.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.bubblewrap {
            parts.push(
                "bubblewrap (sees only the worktree, system folders and the tools on PATH; writes \
                 only in the worktree, a private temp dir and a private /dev/shm)"
                    .to_string(),
            );
        } else if let Some(abi) = self.landlock_abi {
            parts.push(format!(
                "Landlock v{abi} (reads only the worktree, system folders and the tools on PATH; \
                 writes only in the worktree, a private temp dir and a private /dev/shm)"
            ));
        }
        if self.net_ns {
            parts.push("network namespace (no network)".to_string());
        }
        if self.pid_ns {
            parts.push("pid namespace".to_string());
        }
        if self.user_ns {
            parts.push("user namespace".to_string());
        }
        let mut text = if parts.is_empty() {
            "no isolation (process group, time limit and output cap only)".to_string()
        } else {
            parts.join(" + ")
        };
        if !self.is_contained() {
            let mut missing = Vec::new();
            if !self.net_ns {
                missing.push("network access".to_string());
            }
            match self.landlock_abi {
                _ if self.bubblewrap => {}
                None => missing.push("reads and writes anywhere the user can".to_string()),
                Some(abi) if abi < MIN_LANDLOCK_ABI => missing.push(format!(
                    "Landlock v{abi} cannot refuse truncating files outside the worktree \
                     (install bubblewrap)"
                )),
                Some(_) => {}
            }
            text.push_str(&format!("; NOT contained: {}", missing.join(", ")));
        }
        text
    }
}

#[cfg(target_os = "linux")]
fn probe(backend: Backend) -> Isolation {
    let abi = super::landlock::abi_version();
    let namespaces = |landlock_abi: Option<u32>, bubblewrap: bool| {
        let with_user = Isolation {
            user_ns: true,
            net_ns: true,
            pid_ns: true,
            landlock_abi,
            bubblewrap,
        };
        // Root can create network and pid namespaces without a user namespace.
        let without_user = Isolation {
            user_ns: false,
            ..with_user
        };
        [with_user, without_user]
    };
    let landlock = || {
        abi.map(|abi| namespaces(Some(abi), false))
            .into_iter()
            .flatten()
    };
    let bubblewrap = || {
        super::bwrap::program()
            .map(|_| namespaces(None, true))
            .into_iter()
            .flatten()
    };
    let recent = abi.is_some_and(|abi| abi >= MIN_LANDLOCK_ABI);
    let weak = Isolation {
        landlock_abi: abi,
        ..Isolation::NONE
    };
    let candidates: Vec<Isolation> = match backend {
        Backend::Auto if recent => landlock().chain(bubblewrap()).chain([weak]).collect(),
        Backend::Auto => bubblewrap().chain(landlock()).chain([weak]).collect(),
        Backend::Landlock => landlock().chain([weak]).collect(),
        Backend::Bubblewrap => bubblewrap().collect(),
    };
    candidates
        .into_iter()
        .find(|candidate| runs_with(*candidate))
        .unwrap_or(Isolation::NONE)
}

#[cfg(not(target_os = "linux"))]
fn probe(_backend: Backend) -> Isolation {
    Isolation::NONE
}

/// Starts `true` under `isolation` and says whether it ran.
#[cfg(target_os = "linux")]
fn runs_with(isolation: Isolation) -> bool {
    let Ok(temp) = tempfile::tempdir() else {
        return false;
    };
    let spec = RunSpec {
        argv: vec!["true".to_string()],
        cwd: temp.path().to_path_buf(),
        timeout: Duration::from_secs(10),
        output_cap: 1024,
        env: Vec::new(),
        confinement: Some(Confinement {
            isolation,
            writable: vec![temp.path().to_path_buf()],
            max_processes: 64,
            max_file_bytes: 1 << 20,
        }),
    };
    matches!(run::run(&spec, &|| false), Ok(result) if result.exit_code == Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_what_is_missing() {
        assert!(Isolation::NONE.describe().contains("NOT contained"));
        let full = Isolation {
            user_ns: true,
            net_ns: true,
            pid_ns: true,
            landlock_abi: Some(3),
            bubblewrap: false,
        };
        assert!(full.is_contained());
        assert!(!full.describe().contains("NOT"));
        let no_net = Isolation {
            net_ns: false,
            ..full
        };
        assert!(no_net.describe().contains("network access"));
        let old = Isolation {
            landlock_abi: Some(2),
            ..full
        };
        assert!(!old.is_contained());
        assert!(
            old.describe().contains("install bubblewrap"),
            "{}",
            old.describe()
        );
        let bubblewrap = Isolation {
            landlock_abi: None,
            bubblewrap: true,
            ..full
        };
        assert!(bubblewrap.is_contained());
        assert!(bubblewrap.describe().starts_with("bubblewrap"));
    }
}
