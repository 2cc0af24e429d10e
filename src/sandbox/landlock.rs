//! Landlock rulesets: model code may read and execute only what its [`Access`] lists, write only
//! inside the folders it is given (its worktree, its private temp dir) and to `/dev/null`-like
//! devices. Landlock refuses with a permission error; it does not hide that a path exists (`stat`
//! still works), only what is in it.
//!
//! The ruleset is built in ponder's process, before the fork, because building it allocates; the
//! child only adds rules for what exists only in its own mount namespace ([`Ruleset::allow_in_child`])
//! and calls [`Ruleset::restrict_self`], system calls that are safe between fork and exec.
//! Raw system calls keep that guarantee visible (the crate wrappers allocate).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::access::Access;

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
/// Every access right ABI v1 knows (bits 0 to 12).
const FS_ALL_V1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
/// The rights that apply to files (the others apply to folders only).
const FS_FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
/// What a readable path gets.
pub const FS_READ: u64 = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version the kernel offers, `None` when Landlock is off or absent.
pub fn abi_version() -> Option<u32> {
    // SAFETY: with a null attribute and the VERSION flag the call only returns a number.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (version > 0).then_some(version as u32)
}

/// Every filesystem right the given ABI can refuse.
fn handled_fs(abi: u32) -> u64 {
    let mut access = FS_ALL_V1;
    if abi >= 2 {
        access |= FS_REFER;
    }
    if abi >= 3 {
        access |= FS_TRUNCATE;
    }
    if abi >= 5 {
        access |= FS_IOCTL_DEV;
    }
    access
}

/// A created ruleset, ready to be enforced in a child process.
#[derive(Debug)]
pub struct Ruleset {
    fd: OwnedFd,
    /// The rights this ruleset handles (all a writable folder gets).
    handled: u64,
}

impl Ruleset {
    /// Read and execute what `access` lists as readable, everything beneath its writable folders,
    /// read and write its devices. From ABI 6 on, signals and abstract Unix sockets are also
    /// scoped to the sandbox.
    pub fn new(abi: u32, access: &Access) -> Result<Ruleset> {
        let handled = handled_fs(abi);
        let attr = RulesetAttr {
            handled_access_fs: handled,
            handled_access_net: 0,
            scoped: if abi >= 6 {
                SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
            } else {
                0
            },
        };
        let size = if abi >= 6 {
            std::mem::size_of::<RulesetAttr>()
        } else {
            std::mem::size_of::<u64>()
        };
        // SAFETY: `attr` is a valid ruleset attribute of at least `size` bytes.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("cannot create a Landlock ruleset");
        }
        // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
        let ruleset = Ruleset {
            fd: unsafe { OwnedFd::from_raw_fd(fd as i32) },
            handled,
        };
        for path in &access.read {
            // A path that vanished since it was listed is simply not readable.
            if path.exists() {
                ruleset.allow(path, FS_READ)?;
            }
        }
        for device in &access.devices {
            ruleset.allow(
                device,
                FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV,
            )?;
        }
        for dir in &access.write {
            ruleset.allow(dir, handled)?;
        }
        Ok(ruleset)
    }

    fn allow(&self, path: &Path, access: u64) -> Result<()> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .with_context(|| format!("{} has a NUL byte in its name", path.display()))?;
        // SAFETY: a valid NUL-terminated path; O_PATH opens no file contents.
        let raw = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("cannot open {} for the sandbox", path.display()));
        }
        // SAFETY: `open` just returned this descriptor; it is closed when `parent` drops.
        let parent = unsafe { OwnedFd::from_raw_fd(raw) };
        // Folder rights on a file are an error: a file gets only the file rights asked for.
        let access = if path.is_dir() {
            access
        } else {
            access & FS_FILE_RIGHTS
        };
        let rule = PathBeneathAttr {
            allowed_access: access & self.handled,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: both descriptors are open and `rule` is a valid path-beneath attribute.
        let status = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        if status < 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("cannot add {} to the sandbox", path.display()));
        }
        Ok(())
    }

    /// Lets the sandbox use `path` with `access` rights (every handled right when `None`), from
    /// the child: for a folder that exists only in the child's mount namespace (its `/dev/shm`,
    /// its `/proc`). Async-signal-safe: `open`, one Landlock call, `close`. The ruleset is the
    /// child's copy of a descriptor made for this one run.
    pub fn allow_in_child(&self, path: &std::ffi::CStr, access: Option<u64>) -> io::Result<()> {
        // SAFETY: plain system calls; `rule` lives across the call.
        unsafe {
            let parent = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if parent < 0 {
                return Err(io::Error::last_os_error());
            }
            let rule = PathBeneathAttr {
                allowed_access: access.unwrap_or(self.handled) & self.handled,
                parent_fd: parent,
            };
            let status = libc::syscall(
                libc::SYS_landlock_add_rule,
                self.fd.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            );
            let error = io::Error::last_os_error();
            libc::close(parent);
            if status < 0 {
                return Err(error);
            }
        }
        Ok(())
    }

    /// Enforces the ruleset on the calling process and everything it starts.
    ///
    /// Async-signal-safe: only `prctl` and one Landlock call, no allocation.
    pub fn restrict_self(&self) -> io::Result<()> {
        // SAFETY: plain system calls on an open descriptor.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::syscall(libc::SYS_landlock_restrict_self, self.fd.as_raw_fd(), 0u32) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
