//! What model code may see of the machine: the folders and files it may read, and those it may
//! also write. Both sandboxes (Landlock and bubblewrap) enforce the same [`Access`].
//!
//! Readable: the system's programs and libraries (`/usr`, `/bin`, `/lib*`, `/opt`, `/sys`),
//! `/etc` without the files that hold secrets ([`ETC_SECRETS`]), a few devices, the folders of
//! the tools on the run's `PATH` (a `bin` or `shims` folder and the install folder above it, such
//! as `~/.pyenv`), and the Python environment the run's interpreters use (asked of them, see
//! [`super::python_env`]). Writable: the worktree and the run's private temp dir. Nothing else:
//! not the rest of `$HOME` (`~/.ssh`, `~/.aws`, `~/.config`, `~/.netrc`, ponder's journals and
//! config), not `/tmp`, not other repositories. A tool folder is never the home folder itself, nor
//! one of the folders in it that hold private data beside their `bin` ([`PRIVATE_IN_HOME`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::env;
use super::python_env;

/// Top-level system folders model code may read (those that exist).
const SYSTEM: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/opt",
    "/sys",
    "/nix/store",
];

/// Entries of `/etc` (relative paths) that hold secrets or credentials: never readable.
pub const ETC_SECRETS: &[&str] = &[
    "shadow",
    "shadow-",
    "gshadow",
    "gshadow-",
    "sudoers",
    "sudoers.d",
    "ssh",
    "ssl/private",
    "pki/tls/private",
    "security/opasswd",
    "krb5.keytab",
    "NetworkManager/system-connections",
    "wpa_supplicant",
    "ppp/chap-secrets",
    "ppp/pap-secrets",
    "ipsec.secrets",
    "ipsec.d/private",
    "letsencrypt",
    "docker",
    "containers/auth.json",
    "credstore",
    "credstore.encrypted",
    "wireguard",
    "openvpn",
    "npmrc",
    "pip.conf",
    "environment",
    "netrc",
];

/// Devices model code may read and write.
const DEVICES_RW: &[&str] = &["/dev/null", "/dev/zero", "/dev/full"];
/// Devices model code may read.
const DEVICES_RO: &[&str] = &["/dev/random", "/dev/urandom"];

/// Folders in a home folder that keep private data next to a `bin` folder: their `bin` may be
/// read (it is on `PATH`), the folder itself not.
const PRIVATE_IN_HOME: &[&str] = &[
    ".local", ".cargo", ".config", ".ssh", ".aws", ".gnupg", ".docker", ".kube", ".npm",
];

/// Folders a run may read, and folders it may also write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Read and execute, never write. Files or folders, without duplicates or nesting.
    pub read: Vec<PathBuf>,
    /// Read, execute and write (the worktree and the private temp dir).
    pub write: Vec<PathBuf>,
    /// Devices read and written (`/dev/null`…); bubblewrap makes its own.
    pub devices: Vec<PathBuf>,
}

impl Access {
    /// What a run with environment `env` (the one model code gets) and program `program` may
    /// read, given the folders it may write.
    pub fn for_run(writable: &[PathBuf], env: &[(OsString, OsString)], program: &str) -> Access {
        let homes = homes(env);
        let mut read: Vec<PathBuf> = SYSTEM
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect();
        read.extend(allowed_below(Path::new("/etc"), ETC_SECRETS));
        read.extend(DEVICES_RO.iter().map(PathBuf::from).filter(|p| p.exists()));
        let path_var = env::lookup(env, "PATH").cloned().unwrap_or_default();
        read.extend(tool_roots(&path_var, &homes));
        for root in python_env::roots(env, program) {
            if !forbidden_as_root(&root, &homes) {
                read.push(root);
            }
        }
        // A link to `/proc` (`/etc/mtab`) would name ponder's own process: the run has its own.
        read.retain(|p| !std::fs::canonicalize(p).is_ok_and(|c| c.starts_with("/proc")));
        let write: Vec<PathBuf> = writable.to_vec();
        Access {
            read: minimal(read, &write),
            write,
            devices: DEVICES_RW
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.exists())
                .collect(),
        }
    }
}

/// The home folders to protect: `$HOME` as ponder has it, as the run has it, and the user's
/// entry in the password database.
fn homes(env: &[(OsString, OsString)]) -> Vec<PathBuf> {
    let mut homes: Vec<PathBuf> = Vec::new();
    homes.extend(std::env::var_os("HOME").map(PathBuf::from));
    homes.extend(env::lookup(env, "HOME").map(PathBuf::from));
    homes.extend(directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf()));
    let mut canonical: Vec<PathBuf> = homes
        .iter()
        .filter_map(|h| std::fs::canonicalize(h).ok())
        .collect();
    homes.append(&mut canonical);
    homes.retain(|h| h.is_absolute() && h != Path::new("/"));
    homes.sort();
    homes.dedup();
    homes
}

/// Every entry below `dir`, recursively, except the `denied` relative paths: the entries to
/// allow so that everything but those is reachable. An entry that holds a denied path is opened
/// up and its own entries listed instead.
pub fn allowed_below(dir: &Path, denied: &[&str]) -> Vec<PathBuf> {
    allowed_below_rel(dir, Path::new(""), denied)
}

fn allowed_below_rel(root: &Path, rel: &Path, denied: &[&str]) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root.join(rel)) else {
        return Vec::new();
    };
    let mut names: Vec<OsString> = entries.flatten().map(|e| e.file_name()).collect();
    names.sort();
    let mut allowed = Vec::new();
    for name in names {
        let child = rel.join(&name);
        if denied.iter().any(|d| Path::new(d) == child) {
            continue;
        }
        if denied.iter().any(|d| Path::new(d).starts_with(&child)) {
            allowed.extend(allowed_below_rel(root, &child, denied));
        } else {
            allowed.push(root.join(child));
        }
    }
    allowed
}

/// The folders of the tools on `PATH` that are not system folders: for `…/bin`, `…/sbin` and
/// `…/shims`, the install folder above (`~/.pyenv` for `~/.pyenv/shims`), else the folder itself;
/// never a home folder or a folder that keeps private data.
fn tool_roots(path_var: &std::ffi::OsStr, homes: &[PathBuf]) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for dir in std::env::split_paths(path_var) {
        if !dir.is_absolute() || !dir.is_dir() || is_system(&dir) {
            continue;
        }
        let named = |n: &str| dir.file_name().is_some_and(|f| f == n);
        let parent = dir
            .parent()
            .filter(|_| named("bin") || named("sbin") || named("shims"));
        match parent {
            Some(parent) if !forbidden_as_root(parent, homes) && !is_private(parent, homes) => {
                roots.push(parent.to_path_buf())
            }
            _ if !forbidden_as_root(&dir, homes) && !is_secret_store(&dir, homes) => {
                roots.push(dir)
            }
            _ => {}
        }
    }
    roots
}

fn is_system(path: &Path) -> bool {
    SYSTEM.iter().any(|root| path.starts_with(root))
}

/// The root folder, a home folder or a folder above one: never readable as a whole.
fn forbidden_as_root(path: &Path, homes: &[PathBuf]) -> bool {
    path == Path::new("/") || homes.iter().any(|home| home.starts_with(path))
}

/// Inside a home folder's private folders (`~/.local`, `~/.cargo`…).
fn is_private(path: &Path, homes: &[PathBuf]) -> bool {
    homes.iter().any(|home| {
        PRIVATE_IN_HOME
            .iter()
            .any(|name| path.starts_with(home.join(name)))
    })
}

/// Inside a folder that only holds secrets (`~/.ssh`, `~/.aws`, `~/.gnupg`).
fn is_secret_store(path: &Path, homes: &[PathBuf]) -> bool {
    homes.iter().any(|home| {
        [".ssh", ".aws", ".gnupg"]
            .iter()
            .any(|name| path.starts_with(home.join(name)))
    })
}

/// Drops duplicates, paths inside another readable path, and paths inside a writable one.
pub(super) fn minimal(mut read: Vec<PathBuf>, write: &[PathBuf]) -> Vec<PathBuf> {
    read.sort();
    read.dedup();
    let all = read.clone();
    read.retain(|path| {
        !all.iter()
            .any(|other| other != path && path.starts_with(other))
            && !write.iter().any(|w| path.starts_with(w))
    });
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_secrets_are_left_out_and_their_siblings_kept() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path();
        for file in [
            "passwd",
            "shadow",
            "ssl/certs/ca.pem",
            "ssl/private/key.pem",
            "ssh/x",
        ] {
            let path = etc.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let allowed = allowed_below(etc, ETC_SECRETS);
        let rel: Vec<_> = allowed
            .iter()
            .map(|p| p.strip_prefix(etc).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(rel, ["passwd", "ssl/certs"]);
    }

    #[test]
    fn tool_folders_but_never_a_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let folders = [
            ".pyenv/shims",
            ".local/bin",
            ".cargo/bin",
            "go/bin",
            "bin",
            ".ssh/bin",
            "tools",
        ];
        for folder in folders {
            std::fs::create_dir_all(home.join(folder)).unwrap();
        }
        let mut path_dirs: Vec<PathBuf> = folders.iter().map(|f| home.join(f)).collect();
        path_dirs.push(home.clone());
        path_dirs.push(PathBuf::from("/usr/bin"));
        path_dirs.push(PathBuf::from("relative/bin"));
        let path_var = std::env::join_paths(&path_dirs).unwrap();
        let roots = tool_roots(&path_var, std::slice::from_ref(&home));
        let rel: Vec<_> = roots
            .iter()
            .map(|p| {
                p.strip_prefix(&home)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            rel,
            [".pyenv", ".local/bin", ".cargo/bin", "go", "bin", "tools"]
        );
    }

    #[test]
    fn nested_and_writable_paths_are_merged() {
        let read = vec![
            PathBuf::from("/usr/lib"),
            PathBuf::from("/usr"),
            PathBuf::from("/w/tree/venv"),
            PathBuf::from("/usr"),
        ];
        assert_eq!(
            minimal(read, &[PathBuf::from("/w/tree")]),
            [PathBuf::from("/usr")]
        );
    }

    #[test]
    fn a_run_reads_the_system_and_writes_its_folders() {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            (OsString::from("PATH"), OsString::from("/usr/bin:/bin")),
            (OsString::from("HOME"), dir.path().as_os_str().to_owned()),
        ];
        let access = Access::for_run(&[dir.path().join("tree")], &env, "sh");
        assert!(access.read.contains(&PathBuf::from("/usr")));
        assert!(access.read.contains(&PathBuf::from("/etc/passwd")));
        assert!(!access.read.iter().any(|p| p.starts_with("/etc/shadow")));
        assert!(!access.read.iter().any(|p| p.starts_with("/tmp")));
        assert!(!access.read.iter().any(|p| p.starts_with(dir.path())));
        assert_eq!(access.write, [dir.path().join("tree")]);
    }
}
