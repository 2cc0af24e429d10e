//! The bubblewrap fallback: where Landlock is missing or too old, model code runs under `bwrap`,
//! which builds it a file system holding only what its [`Access`] lists.
//!
//! Readable paths are bound read-only at their own place, writable folders read-write, and the
//! run gets its own `/proc` (its pid namespace), a minimal `/dev` and an empty `/dev/shm`. Nothing
//! else exists for it: a path outside its [`Access`] is *not found* rather than refused. bwrap
//! drops every capability, starts a new session (no terminal to write keystrokes into) and dies
//! with ponder. When ponder made a user namespace itself (to cap the number of processes inside
//! it), bwrap runs in it as its root and adds the other namespaces.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::access::{self, Access};
use super::isolation::Isolation;

/// Size of the run's `/dev/shm`, as for Landlock's private one.
const SHM_BYTES: u64 = 256 << 20;

/// The `bwrap` program, when installed (looked up once on ponder's `PATH`).
pub fn program() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH").unwrap_or_default();
            super::python_env::find_program("bwrap", &path).or_else(|| {
                let usual = PathBuf::from("/usr/bin/bwrap");
                usual.is_file().then_some(usual)
            })
        })
        .as_deref()
}

/// Whether this bwrap knows `--size` (0.5 and later).
fn knows_size(bwrap: &Path) -> bool {
    static KNOWS: OnceLock<bool> = OnceLock::new();
    *KNOWS.get_or_init(|| {
        std::process::Command::new(bwrap)
            .arg("--help")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("--size"))
    })
}

/// The command line that runs `command` in `cwd` under bubblewrap.
pub fn argv(
    bwrap: &Path,
    isolation: &Isolation,
    access: &Access,
    cwd: &Path,
    command: &[String],
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![bwrap.into()];
    let mut flag = |words: &[&str]| args.extend(words.iter().map(OsString::from));
    flag(&[
        "--die-with-parent",
        "--new-session",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--cap-drop",
        "ALL",
    ]);
    if isolation.net_ns {
        flag(&["--unshare-net"]);
    }
    if isolation.pid_ns {
        flag(&["--unshare-pid", "--proc", "/proc"]);
    }
    flag(&["--dev", "/dev"]);
    if knows_size(bwrap) {
        flag(&["--size", &SHM_BYTES.to_string()]);
    }
    flag(&["--tmpfs", "/dev/shm"]);
    for mount in mounts(access) {
        match mount {
            Mount::Symlink { target, at } => {
                args.extend(["--symlink".into(), target.into_os_string(), at.into()])
            }
            Mount::ReadOnly(path) => {
                args.extend(["--ro-bind".into(), path.clone().into(), path.into()])
            }
            Mount::ReadWrite(path) => {
                args.extend(["--bind".into(), path.clone().into(), path.into()])
            }
        }
    }
    // The root bwrap builds is a tmpfs: made read-only, a write anywhere outside the writable
    // folders fails (EROFS) instead of landing in a throwaway file the run could mistake for one
    // of the user's.
    args.extend(["--remount-ro".into(), "/".into()]);
    args.extend(["--chdir".into(), cwd.into(), "--".into()]);
    args.extend(command.iter().map(OsString::from));
    args
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mount {
    Symlink { target: PathBuf, at: PathBuf },
    ReadOnly(PathBuf),
    ReadWrite(PathBuf),
}

impl Mount {
    fn at(&self) -> &Path {
        match self {
            Mount::Symlink { at, .. } => at,
            Mount::ReadOnly(p) | Mount::ReadWrite(p) => p,
        }
    }
}

/// The mounts for `access`, parents before children. A readable path that is a symbolic link
/// becomes the same link, and what it points to is bound too.
fn mounts(access: &Access) -> Vec<Mount> {
    let mut read = Vec::new();
    let mut links = Vec::new();
    for path in &access.read {
        match std::fs::read_link(path) {
            Ok(target) => {
                links.push(Mount::Symlink {
                    target,
                    at: path.clone(),
                });
                read.extend(
                    std::fs::canonicalize(path)
                        .ok()
                        .filter(|c| !c.starts_with("/proc")),
                );
            }
            Err(_) if path.exists() => read.push(path.clone()),
            Err(_) => {}
        }
    }
    let read = access::minimal(read, &access.write);
    let mut mounts: Vec<Mount> = read.into_iter().map(Mount::ReadOnly).collect();
    mounts.extend(links);
    mounts.extend(
        access
            .write
            .iter()
            .filter(|p| p.exists())
            .cloned()
            .map(Mount::ReadWrite),
    );
    mounts.sort_by(|a, b| {
        let depth = |m: &Mount| m.at().components().count();
        depth(a).cmp(&depth(b)).then_with(|| a.at().cmp(b.at()))
    });
    mounts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_links_and_parents_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("real", &link).unwrap();
        let tree = dir.path().join("w/tree");
        std::fs::create_dir_all(&tree).unwrap();
        let access = Access {
            read: vec![
                link.clone(),
                PathBuf::from("/usr/lib"),
                PathBuf::from("/usr"),
            ],
            write: vec![tree.clone()],
            devices: Vec::new(),
        };
        let mounts = mounts(&access);
        assert_eq!(mounts[0], Mount::ReadOnly(PathBuf::from("/usr")));
        assert!(mounts.contains(&Mount::Symlink {
            target: PathBuf::from("real"),
            at: link
        }));
        assert!(mounts.contains(&Mount::ReadOnly(real.canonicalize().unwrap())));
        assert!(mounts.contains(&Mount::ReadWrite(tree)));
        assert!(!mounts.contains(&Mount::ReadOnly(PathBuf::from("/usr/lib"))));
    }

    #[test]
    fn the_command_comes_last_after_the_namespaces() {
        let isolation = Isolation {
            user_ns: true,
            net_ns: true,
            pid_ns: true,
            landlock_abi: None,
            bubblewrap: true,
        };
        let argv = argv(
            Path::new("/usr/bin/bwrap"),
            &isolation,
            &Access::default(),
            Path::new("/w"),
            &["python3".into(), "x.py".into()],
        );
        let text: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(text.contains(&"--unshare-net".to_string()));
        assert!(text.contains(&"--cap-drop".to_string()));
        assert_eq!(text[text.len() - 3..], ["--", "python3", "x.py"]);
    }
}
