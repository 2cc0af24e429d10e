//! Entering the sandbox in the child, between `fork` and `exec`.
//!
//! Everything here runs in a forked copy of a multi-threaded process, so it may only make system
//! calls: no allocation, no locks. All text it writes, the Landlock ruleset and bubblewrap's
//! command line are prepared by [`Confinement::prepare`] in the parent.
//!
//! The order matters: the run's pids cgroup first (where ponder made one), then new namespaces (a
//! user namespace when available, so that even root loses its host capabilities and the process
//! limit is counted per sandbox), then the uid/gid
//! maps (files under `/proc`), the loopback interface, resource limits, the pid namespace's init,
//! a fresh `/proc` that shows only the sandbox's processes, and last Landlock (which forbids
//! mounting). With a pid namespace the chain is `ponder → waiter → init (pid 1) → command`: when
//! the command exits, init exits and the kernel kills every process left in the namespace,
//! daemons included. Under bubblewrap the child only makes the user namespace, sets the limits
//! and executes `bwrap`, which does the rest.
//!
//! Other platforms have no confinement: [`Confinement::prepare`] fails there, so model code never
//! runs believed-contained (and [`super::Isolation::detect`] reports none).

use std::path::PathBuf;

use super::isolation::Isolation;

/// What a sandboxed run may touch and how many processes it may have.
#[derive(Debug, Clone)]
pub struct Confinement {
    /// The mechanisms to use (usually [`Isolation::detect`]'s answer).
    pub isolation: Isolation,
    /// Folders the run may write in: its worktree and its private temp dir.
    pub writable: Vec<PathBuf>,
    /// Most processes the run may have at once (enforced inside a user namespace).
    pub max_processes: u64,
    /// Largest file the run may write, in bytes.
    pub max_file_bytes: u64,
}

#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::OsString;
    use std::io;
    use std::path::Path;

    use anyhow::{Context, Result};

    use super::Confinement;
    use crate::sandbox::access::Access;
    use crate::sandbox::bwrap;
    use crate::sandbox::landlock::{FS_READ, Ruleset};

    const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
    const SIOCSIFFLAGS: libc::c_ulong = 0x8914;

    /// `struct ifreq` with the flags member of its union.
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }

    /// A confinement ready to be entered in a child: namespaces flags, map texts, ruleset, or
    /// bubblewrap's command line.
    #[derive(Debug)]
    pub struct Prepared {
        unshare_flags: libc::c_int,
        maps: Option<[(&'static std::ffi::CStr, Vec<u8>); 3]>,
        loopback: bool,
        /// A mount namespace, made private, with a fresh tmpfs on `/dev/shm` (Python's
        /// multiprocessing needs a writable one; the host's is shared with every process) and,
        /// with a pid namespace, a fresh `/proc`.
        private_mounts: bool,
        pid_ns: bool,
        ruleset: Option<Ruleset>,
        max_processes: u64,
        max_file_bytes: u64,
        /// The command line to execute instead of the command: bubblewrap's.
        wrapper: Option<Vec<OsString>>,
        /// The `cgroup.procs` file of the run's pids cgroup, joined first ([`super::super::pids`]).
        cgroup_procs: Option<std::ffi::CString>,
    }

    impl Confinement {
        /// Does the allocating part in the parent: what the run may read, the uid/gid map texts
        /// and the Landlock ruleset or bubblewrap's command line. `env` is the run's
        /// environment, `argv` its command, `cwd` where it starts.
        pub fn prepare(
            &self,
            env: &[(OsString, OsString)],
            argv: &[String],
            cwd: &Path,
        ) -> Result<Prepared> {
            let iso = &self.isolation;
            let program = argv.first().map(String::as_str).unwrap_or("");
            let access = (iso.landlock_abi.is_some() || iso.bubblewrap)
                .then(|| Access::for_run(&self.writable, env, program));
            let mut flags = 0;
            if iso.user_ns {
                flags |= libc::CLONE_NEWUSER;
            }
            // SAFETY: getuid and getgid cannot fail.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            let maps = iso.user_ns.then(|| {
                [
                    (c"/proc/self/setgroups", b"deny".to_vec()),
                    (
                        c"/proc/self/uid_map",
                        format!("{uid} {uid} 1\n").into_bytes(),
                    ),
                    (
                        c"/proc/self/gid_map",
                        format!("{gid} {gid} 1\n").into_bytes(),
                    ),
                ]
            });
            if iso.bubblewrap {
                let program = bwrap::program()
                    .context("bubblewrap (bwrap) is not installed: run scripts/setup.sh")?;
                let access = access.unwrap_or_default();
                return Ok(Prepared {
                    unshare_flags: flags,
                    maps,
                    loopback: false,
                    private_mounts: false,
                    pid_ns: false,
                    ruleset: None,
                    max_processes: self.max_processes,
                    max_file_bytes: self.max_file_bytes,
                    wrapper: Some(bwrap::argv(program, iso, &access, cwd, argv)),
                    cgroup_procs: None,
                });
            }
            if iso.net_ns {
                flags |= libc::CLONE_NEWNET;
            }
            if iso.pid_ns {
                flags |= libc::CLONE_NEWPID;
            }
            // Namespaces need either a user namespace or root, as a mount namespace does.
            let private_mounts = iso.net_ns && iso.landlock_abi.is_some();
            if private_mounts {
                flags |= libc::CLONE_NEWNS;
            }
            let ruleset = match (iso.landlock_abi, &access) {
                (Some(abi), Some(access)) => Some(Ruleset::new(abi, access)?),
                _ => None,
            };
            Ok(Prepared {
                unshare_flags: flags,
                maps,
                loopback: iso.net_ns,
                private_mounts,
                pid_ns: iso.pid_ns,
                ruleset,
                max_processes: self.max_processes,
                max_file_bytes: self.max_file_bytes,
                wrapper: None,
                cgroup_procs: None,
            })
        }
    }

    impl Prepared {
        /// The command line to start: bubblewrap's when it confines the run, else `argv`.
        pub fn command_line(&self, argv: &[String]) -> Vec<OsString> {
            match &self.wrapper {
                Some(wrapper) => wrapper.clone(),
                None => argv.iter().map(OsString::from).collect(),
            }
        }

        /// Makes the run join the pids cgroup whose `cgroup.procs` file is `procs` before it
        /// does anything else, so that all its processes are counted.
        pub fn join_cgroup(&mut self, procs: std::ffi::CString) {
            self.cgroup_procs = Some(procs);
        }

        /// Enters the sandbox. Call only between fork and exec: see the module docs.
        pub fn enter(&self) -> io::Result<()> {
            // SAFETY (whole function): system calls on memory prepared before the fork.
            unsafe {
                // If ponder dies (killed, crashed), so does the run.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
                // Before the user namespace, which would take away the right to move.
                if let Some(procs) = &self.cgroup_procs {
                    write_file(procs, b"0")?;
                }
                if self.unshare_flags != 0 && libc::unshare(self.unshare_flags) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if let Some(maps) = &self.maps {
                    for (path, text) in maps {
                        write_file(path, text)?;
                    }
                }
                if self.loopback {
                    loopback_up()?;
                }
                // Best effort: without it, multiprocessing fails but nothing escapes. Without
                // private mounts nothing below is mounted (it would reach the host).
                let private = self.private_mounts && make_mounts_private();
                let shm = private && private_shm();
                // Outside a user namespace the process limit would count all the user's processes.
                if self.maps.is_some() {
                    set_limit(libc::RLIMIT_NPROC, self.max_processes)?;
                }
                set_limit(libc::RLIMIT_FSIZE, self.max_file_bytes)?;
                set_limit(libc::RLIMIT_CORE, 0)?;
                if self.pid_ns {
                    become_init_chain()?;
                }
                // The host's /proc would show ponder's environment and every other process: the
                // run gets one of its own pid namespace, or none.
                let proc = private && self.pid_ns && fresh_proc();
                if let Some(ruleset) = &self.ruleset {
                    if shm {
                        ruleset.allow_in_child(c"/dev/shm", None)?;
                    }
                    if proc {
                        ruleset.allow_in_child(c"/proc", Some(FS_READ))?;
                    }
                    ruleset.restrict_self()?;
                }
            }
            Ok(())
        }
    }

    /// Stops mounts from propagating back to the host.
    unsafe fn make_mounts_private() -> bool {
        unsafe {
            libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) == 0
        }
    }

    /// Mounts an empty tmpfs on `/dev/shm` (in a private mount namespace).
    unsafe fn private_shm() -> bool {
        unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/dev/shm".as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                c"mode=1777,size=268435456".as_ptr().cast(),
            ) == 0
        }
    }

    /// Mounts a `/proc` of the current pid namespace over the host's (in a private mount
    /// namespace, from inside the pid namespace).
    unsafe fn fresh_proc() -> bool {
        unsafe {
            libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0
        }
    }

    unsafe fn write_file(path: &std::ffi::CStr, text: &[u8]) -> io::Result<()> {
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let written = libc::write(fd, text.as_ptr().cast(), text.len());
            libc::close(fd);
            if written != text.len() as isize {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// A fresh network namespace has only `lo`, and it is down: bring it up so tests that serve on
    /// localhost still work. Nothing outside is reachable.
    unsafe fn loopback_up() -> io::Result<()> {
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut req = IfReq {
                name: [0; 16],
                flags: 0,
                _pad: [0; 22],
            };
            req.name[..2].copy_from_slice(b"lo");
            let mut status = libc::ioctl(fd, SIOCGIFFLAGS as _, &mut req as *mut IfReq);
            if status == 0 {
                req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
                status = libc::ioctl(fd, SIOCSIFFLAGS as _, &req as *const IfReq);
            }
            let error = io::Error::last_os_error();
            libc::close(fd);
            if status != 0 {
                return Err(error);
            }
        }
        Ok(())
    }

    unsafe fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        // SAFETY: a valid rlimit struct.
        if unsafe { libc::setrlimit(resource, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Forks twice after `unshare(CLONE_NEWPID)`: the waiter and init never return (they wait and
    /// exit with the command's status); the grandchild returns and goes on to exec the command.
    unsafe fn become_init_chain() -> io::Result<()> {
        unsafe {
            let init = libc::fork();
            if init < 0 {
                return Err(io::Error::last_os_error());
            }
            if init > 0 {
                close_all_fds();
                libc::_exit(wait_for(init));
            }
            // Now pid 1 of the new namespace. If the waiter dies (ponder was killed), so do we, and
            // with us the whole namespace.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            let command = libc::fork();
            if command < 0 {
                return Err(io::Error::last_os_error());
            }
            if command > 0 {
                close_all_fds();
                libc::_exit(wait_for(command));
            }
        }
        Ok(())
    }

    /// Waits for `pid`, reaping any other child (orphans are re-parented to init), and turns its end
    /// into an exit status: its own, or 128 + the signal that killed it.
    unsafe fn wait_for(pid: libc::pid_t) -> libc::c_int {
        loop {
            let mut status = 0;
            // SAFETY: waitpid with a valid out pointer.
            let reaped = unsafe { libc::waitpid(-1, &mut status, 0) };
            if reaped == pid {
                if libc::WIFEXITED(status) {
                    return libc::WEXITSTATUS(status);
                }
                if libc::WIFSIGNALED(status) {
                    return 128 + libc::WTERMSIG(status);
                }
            } else if reaped < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                return 127;
            }
        }
    }

    /// The waiter and init hold no pipes: output ends when the command's processes end, and the
    /// standard library's exec-error pipe closes when the command execs.
    unsafe fn close_all_fds() {
        // SAFETY: close_range on every descriptor; the caller uses none afterwards.
        unsafe {
            if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
                for fd in 0..4096 {
                    libc::close(fd);
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod other {
    use anyhow::{Result, bail};

    use super::Confinement;

    /// Nothing to enter: confinement is Linux-only.
    #[derive(Debug)]
    pub struct Prepared;

    impl Confinement {
        /// Always fails: this platform has no sandbox ponder can enter.
        pub fn prepare(
            &self,
            _env: &[(std::ffi::OsString, std::ffi::OsString)],
            _argv: &[String],
            _cwd: &std::path::Path,
        ) -> Result<Prepared> {
            bail!(
                "ponder can sandbox model code only on Linux; pass --allow-unsandboxed to run it anyway"
            )
        }
    }

    impl Prepared {
        /// Never reached: [`Confinement::prepare`] fails first.
        pub fn command_line(&self, argv: &[String]) -> Vec<std::ffi::OsString> {
            argv.iter().map(Into::into).collect()
        }

        /// Never reached: [`Confinement::prepare`] fails first.
        pub fn join_cgroup(&mut self, _procs: std::ffi::CString) {}

        /// Never reached: [`Confinement::prepare`] fails first.
        pub fn enter(&self) -> std::io::Result<()> {
            Err(std::io::ErrorKind::Unsupported.into())
        }
    }
}
