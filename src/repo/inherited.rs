//! Methods an issue names on a class it names, resolved through the class's bases: the file that
//! really defines `GaussianMixture.fit_predict` is the one of `BaseMixture`, which
//! `GaussianMixture` inherits it from. A name defined in many files (`fit_predict`, `save`)
//! points nowhere by itself; with the class beside it, it points at one definition.
//!
//! Bases are read from the class's signature by name (`class A(b.Base, Mixin, metaclass=M)` →
//! `Base`, `Mixin`), so a base defined under the same name in several files is followed into
//! each (at most [`MAX_DEFINITIONS`]).

use std::collections::HashSet;

use super::RepoIndex;
use super::mentions::Mentions;
use super::symbol::SymbolKind;

/// How far up the bases the search goes.
const MAX_DEPTH: usize = 8;
/// A class or base name defined in more files than this is too ambiguous to follow.
const MAX_DEFINITIONS: usize = 3;

/// One resolution: the class named, the method named, and the definition it resolves to (the
/// class that defines it, in which file slot), with how many bases up it was found (0: the class
/// itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub class: String,
    pub method: String,
    pub owner: String,
    pub slot: usize,
    pub depth: usize,
}

/// Every member the issue uses on a class ([`Mentions::members`]) that the class defines or
/// inherits, resolved to the nearest definition along the bases.
pub(crate) fn resolve(index: &RepoIndex, mentions: &Mentions) -> Vec<Resolved> {
    let mut found = Vec::new();
    for (class, method) in &mentions.members {
        // The classes that define a method of this name, by (file slot, class name).
        let owners: HashSet<(usize, &str)> = index
            .symbols_named(method)
            .into_iter()
            .filter(|(_, s)| s.kind == SymbolKind::Method)
            .filter_map(|(f, s)| Some((index.slot_of(&f.path)?, s.parent()?)))
            .collect();
        if owners.is_empty() {
            continue;
        }
        if let Some((owner, slot, depth)) = nearest_owner(index, class, &owners) {
            found.push(Resolved {
                class: class.clone(),
                method: method.clone(),
                owner,
                slot,
                depth,
            });
        }
    }
    found
}

/// The definitions of classes named `name`, as (file slot, signature), when few enough.
fn class_definitions<'a>(index: &'a RepoIndex, name: &str) -> Vec<(usize, &'a str)> {
    let defs: Vec<(usize, &str)> = index
        .symbols_named(name)
        .into_iter()
        .filter(|(_, s)| s.kind == SymbolKind::Class)
        .filter_map(|(f, s)| Some((index.slot_of(&f.path)?, s.signature.as_str())))
        .collect();
    if defs.len() > MAX_DEFINITIONS {
        return Vec::new();
    }
    defs
}

/// Breadth first up the bases of `class`: the first level at which some class defining the
/// method appears, as (its name, its file slot, the level). Several owners at that level: the
/// first found.
fn nearest_owner(
    index: &RepoIndex,
    class: &str,
    owners: &HashSet<(usize, &str)>,
) -> Option<(String, usize, usize)> {
    let mut level: Vec<String> = vec![class.to_string()];
    let mut seen: HashSet<String> = HashSet::new();
    for depth in 0..=MAX_DEPTH {
        let mut next = Vec::new();
        for name in &level {
            if !seen.insert(name.clone()) {
                continue;
            }
            for (slot, signature) in class_definitions(index, name) {
                if owners.contains(&(slot, name.as_str())) {
                    return Some((name.clone(), slot, depth));
                }
                next.extend(bases(signature));
            }
        }
        if next.is_empty() {
            return None;
        }
        level = next;
    }
    None
}

/// The base class names in a class's signature: `class A(b.Base, Mixin[T], metaclass=M):` →
/// `Base`, `Mixin`.
pub(crate) fn bases(signature: &str) -> Vec<String> {
    let Some(open) = signature.find('(') else {
        return Vec::new();
    };
    let Some(close) = signature.rfind(')') else {
        return Vec::new();
    };
    if close <= open {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in signature[open + 1..close].chars().chain([',']) {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ',' if depth == 0 => {
                let part = current.trim();
                if !part.contains('=') && !part.starts_with('*') {
                    let head = part.split(['[', '(']).next().unwrap_or("");
                    let name = head.rsplit('.').next().unwrap_or("").trim();
                    if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                        out.push(name.to_string());
                    }
                }
                current.clear();
            }
            _ => current.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::{Workspace, extract_mentions};

    #[test]
    fn bases_are_read_from_the_signature() {
        assert_eq!(
            bases("class A(b.Base, Mixin[T], metaclass=M):"),
            ["Base", "Mixin"]
        );
        assert_eq!(bases("class A:"), Vec::<String>::new());
        assert_eq!(bases("class A(object):"), ["object"]);
        assert_eq!(bases("class A(*parents):"), Vec::<String>::new());
    }

    #[test]
    fn an_inherited_method_resolves_to_the_base_that_defines_it() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "mix/base.py",
            "class BaseMixture:\n    def fit_predict(self, X):\n        return X\n",
        );
        write(
            "mix/gaussian.py",
            "from .base import BaseMixture\n\nclass GaussianMixture(BaseMixture):\n    def _m_step(self):\n        pass\n",
        );
        write(
            "other/kmeans.py",
            "class KMeans:\n    def fit_predict(self, X):\n        return X\n",
        );
        let index = crate::repo::RepoIndex::build(&Workspace::open(dir.path()).unwrap()).unwrap();
        let issue = "GaussianMixture predict and fit_predict disagree\n\
                     gm = GaussianMixture(n_components=5)\nc1 = gm.fit_predict(X)\n";
        let resolved = resolve(&index, &extract_mentions(issue));
        let base = index.slot_of("mix/base.py").unwrap();
        assert_eq!(
            resolved,
            [Resolved {
                class: "GaussianMixture".into(),
                method: "fit_predict".into(),
                owner: "BaseMixture".into(),
                slot: base,
                depth: 1,
            }]
        );
    }
}
