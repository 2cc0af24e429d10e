//! Vendored code recognised by the shape of the tree rather than by a list of folder names:
//! another project copied inside the project's own package. Such files stay indexed (the tools
//! can still show them) but the shortlist ranks them low, since a fix rarely edits copied code.
//!
//! A folder is the root of vendored code when it sits inside a Python package (its parent
//! folder has an `__init__.py`) and either
//! - it is a package whose `__init__.py` sets its own `__version__`: an independently released
//!   project (a project's own sub-packages do not carry versions of their own), or
//! - it is named as the common conventions name a folder of copied dependencies (`packages`,
//!   `vendor`, `_vendor`, `extern`, `external`, `third_party`, …) — inside a package, that name
//!   means "someone else's code", whereas at the top of a repository `packages/` is often a
//!   monorepo's own code, which is why the package condition matters.

use std::collections::HashSet;

use super::RepoIndex;

/// Names that, for a folder inside a package, mean "copied dependencies".
const CONTAINER_NAMES: &[&str] = &[
    "packages",
    "vendor",
    "vendored",
    "_vendor",
    "_vendored",
    "extern",
    "externals",
    "external",
    "_external",
    "third_party",
    "_third_party",
    "thirdparty",
];

/// The folders (repository-relative, no trailing `/`) whose files are vendored.
#[derive(Debug, Clone, Default)]
pub struct Vendored {
    roots: Vec<String>,
}

impl Vendored {
    /// Finds the vendored folders among the files of `index`.
    pub fn detect(index: &RepoIndex) -> Vendored {
        let packages: HashSet<&str> = index
            .files()
            .into_iter()
            .filter_map(|(_, f)| f.path.strip_suffix("/__init__.py"))
            .collect();
        let mut roots: Vec<String> = Vec::new();
        for &package in &packages {
            let Some((parent, name)) = package.rsplit_once('/') else {
                continue;
            };
            if !packages.contains(parent) {
                continue;
            }
            let versioned = index
                .file(&format!("{package}/__init__.py"))
                .is_some_and(|f| sets_version(&f.text));
            if versioned || CONTAINER_NAMES.contains(&name) {
                roots.push(package.to_string());
            }
        }
        // Containers that are not packages themselves (no `__init__.py`) but sit in one.
        for (_, file) in index.files() {
            let mut dirs: Vec<&str> = Vec::new();
            let mut end = 0;
            for part in file.path.split('/') {
                if end > 0 {
                    dirs.push(&file.path[..end - 1]);
                }
                end += part.len() + 1;
            }
            for dir in dirs {
                let Some((parent, name)) = dir.rsplit_once('/') else {
                    continue;
                };
                if CONTAINER_NAMES.contains(&name) && packages.contains(parent) {
                    roots.push(dir.to_string());
                }
            }
        }
        roots.sort();
        roots.dedup();
        // Keep the outermost roots only.
        let mut outer: Vec<String> = Vec::new();
        for root in roots {
            if !outer.iter().any(|o| root.starts_with(&format!("{o}/"))) {
                outer.push(root);
            }
        }
        Vendored { roots: outer }
    }

    /// True when `path` lies under a vendored folder.
    pub fn contains(&self, path: &str) -> bool {
        self.roots.iter().any(|root| {
            path.strip_prefix(root.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }

    /// The vendored folders, outermost only, sorted.
    pub fn roots(&self) -> &[String] {
        &self.roots
    }
}

/// True when a module assigns `__version__` at its top level.
fn sets_version(text: &str) -> bool {
    text.lines().any(|line| {
        line.strip_prefix("__version__")
            .is_some_and(|rest| rest.trim_start().starts_with('=') || rest.starts_with(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::sets_version;

    #[test]
    fn version_assignments_at_top_level_only() {
        assert!(sets_version("\"\"\"doc\"\"\"\n__version__ = '1.2'\n"));
        assert!(sets_version("__version__: str = '1.2'\n"));
        assert!(!sets_version("    __version__ = '1.2'\n"));
        assert!(!sets_version("from ._version import __version__\n"));
    }
}
