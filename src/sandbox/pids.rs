//! A pids cgroup per sandboxed run: the process cap where `RLIMIT_NPROC` does not count.
//!
//! The kernel never applies `RLIMIT_NPROC` to a process whose real user on the host is root,
//! user namespace or not, so a fork storm run by root ignores it (seen here: 7,940 processes under
//! a limit of 64 and 4.7 GB of memory in 12 s; on CI the out-of-memory killer then took
//! `cargo test`). Where ponder may make cgroups (root with a pids hierarchy, or a cgroup v2 subtree
//! that has the pids controller), each run gets its own `ponder-run-PID-N` beside ponder's
//! cgroup with `pids.max` set. The run's child moves itself into it before anything else
//! ([`RunCgroup::procs_file`]), so every process it starts is counted; at the end of the run
//! every process still in it is killed and the cgroup removed. Cgroups left by a ponder that died
//! are removed by the next one.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const PREFIX: &str = "ponder-run-";

/// One run's pids cgroup; dropping it kills what is left in it and removes it.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
    procs: CString,
}

impl RunCgroup {
    /// A new cgroup that allows at most `max_processes` processes (threads count), or `None` where
    /// this process may not make one.
    pub fn create(max_processes: u64) -> Option<RunCgroup> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let parent = parent()?;
        sweep(parent);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = parent.join(format!("{PREFIX}{}-{n}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let procs = CString::new(
            dir.join("cgroup.procs")
                .into_os_string()
                .into_encoded_bytes(),
        );
        let cgroup = RunCgroup {
            procs: procs.ok()?,
            dir,
        };
        std::fs::write(cgroup.dir.join("pids.max"), max_processes.to_string()).ok()?;
        Some(cgroup)
    }

    /// The file the run's child writes `0` to, to move itself in.
    pub fn procs_file(&self) -> &CString {
        &self.procs
    }

    /// Kills every process in the cgroup, until none is left or a second has passed.
    fn kill_all(&self) {
        let started = Instant::now();
        // cgroup v2 kills the whole cgroup at once.
        let _ = std::fs::write(self.dir.join("cgroup.kill"), "1");
        while started.elapsed() < Duration::from_secs(1) {
            let pids = members(&self.dir);
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: kill(2) has no memory effects.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.kill_all();
        // A killed process leaves the cgroup when the kernel has finished with it.
        let started = Instant::now();
        while std::fs::remove_dir(&self.dir).is_err() && started.elapsed() < Duration::from_secs(1)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// How a run's processes are capped on this machine, for `doctor`: `user_ns` says whether runs
/// get a user namespace (where `RLIMIT_NPROC` counts only the run's own processes).
pub fn describe_cap(user_ns: bool) -> &'static str {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root && RunCgroup::create(1).is_some() {
        "a pids cgroup per run (root is exempt from RLIMIT_NPROC)"
    } else if root {
        "NOT capped: root is exempt from RLIMIT_NPROC and no pids cgroup can be made here, so \
         only the time limit stops a fork storm"
    } else if user_ns {
        "RLIMIT_NPROC in the run's user namespace"
    } else {
        "NOT capped: without a user namespace RLIMIT_NPROC would count all your processes"
    }
}

/// The folder new run cgroups go in: ponder's own pids cgroup, when it may make children there.
fn parent() -> Option<&'static Path> {
    static PARENT: OnceLock<Option<PathBuf>> = OnceLock::new();
    PARENT
        .get_or_init(|| {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
            let dir = own_pids_dir(&mountinfo, &cgroups)?;
            usable(&dir).then_some(dir)
        })
        .as_deref()
}

/// Where ponder's pids cgroup is in the file system: a cgroup v1 pids hierarchy, else cgroup v2.
fn own_pids_dir(mountinfo: &str, cgroups: &str) -> Option<PathBuf> {
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(Mount::parse).collect();
    let v1 = cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers.split(',').any(|c| c == "pids").then_some(path)
    });
    if let Some(path) = v1 {
        let mount = mounts
            .iter()
            .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == "pids"))?;
        return mount.place(path);
    }
    let path = cgroups.lines().find_map(|line| line.strip_prefix("0::"))?;
    mounts.iter().find(|m| m.fstype == "cgroup2")?.place(path)
}

/// Whether run cgroups made in `dir` get a pids limit.
fn usable(dir: &Path) -> bool {
    if dir.join("cgroup.subtree_control").exists() {
        // cgroup v2: the controller must be on for children, which only a cgroup without
        // processes of its own (or the root) may turn on.
        let on = |dir: &Path| {
            std::fs::read_to_string(dir.join("cgroup.subtree_control"))
                .is_ok_and(|text| text.split_whitespace().any(|c| c == "pids"))
        };
        return on(dir)
            || (std::fs::write(dir.join("cgroup.subtree_control"), "+pids").is_ok() && on(dir));
    }
    dir.join("cgroup.procs").exists()
}

/// One line of `/proc/self/mountinfo`.
struct Mount<'a> {
    root: &'a str,
    point: &'a str,
    fstype: &'a str,
    options: &'a str,
}

impl<'a> Mount<'a> {
    fn parse(line: &'a str) -> Option<Mount<'a>> {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        Some(Mount {
            root: left.get(3)?,
            point: left.get(4)?,
            fstype: right.next()?,
            options: right.nth(1)?,
        })
    }

    /// The folder of cgroup `path` (as `/proc/self/cgroup` gives it) under this mount, if the
    /// mount shows it.
    fn place(&self, path: &str) -> Option<PathBuf> {
        let below = if self.root == "/" {
            path
        } else {
            path.strip_prefix(self.root)?
        };
        let below = below.trim_start_matches('/');
        let point = Path::new(self.point);
        Some(if below.is_empty() {
            point.to_path_buf()
        } else {
            point.join(below)
        })
    }
}

/// The processes in the cgroup at `dir`.
fn members(dir: &Path) -> Vec<libc::pid_t> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| text.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// Removes the run cgroups of ponder processes that no longer exist (emptied first).
fn sweep(parent: &Path) {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name
                .to_str()
                .and_then(|n| n.strip_prefix(PREFIX))
                .and_then(|rest| rest.split('-').next())
            else {
                continue;
            };
            if Path::new("/proc").join(owner).exists() {
                continue;
            }
            drop(RunCgroup {
                dir: entry.path(),
                procs: CString::default(),
            });
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

    #[test]
    fn finds_the_v1_pids_hierarchy_and_ponders_place_in_it() {
        let cgroups = "8:pids:/\n4:memory:/process_api/45\n0::/\n";
        assert_eq!(
            own_pids_dir(MOUNTINFO_V1, cgroups),
            Some(PathBuf::from("/sys/fs/cgroup/pids"))
        );
        let cgroups = "8:pids:/build/7\n0::/\n";
        assert_eq!(
            own_pids_dir(MOUNTINFO_V1, cgroups),
            Some(PathBuf::from("/sys/fs/cgroup/pids/build/7"))
        );
    }

    #[test]
    fn falls_back_to_cgroup_v2_and_honours_a_namespaced_mount_root() {
        let mountinfo = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            own_pids_dir(mountinfo, "0::/user.slice/session-1.scope\n"),
            Some(PathBuf::from("/sys/fs/cgroup/user.slice/session-1.scope"))
        );
        // A container sees its cgroup as the mount's root.
        let mountinfo = "30 23 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            own_pids_dir(mountinfo, "0::/docker/abc\n"),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(own_pids_dir(mountinfo, "0::/elsewhere\n"), None);
    }

    #[test]
    fn no_cgroup_file_system_means_no_cgroup() {
        assert_eq!(own_pids_dir("", "0::/\n"), None);
        assert_eq!(own_pids_dir(MOUNTINFO_V1, ""), None);
    }
}
