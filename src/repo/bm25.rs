//! Okapi BM25 over documents given as token counts, with postings so a query touches only the
//! documents that hold its terms, and removal so a changed file can be re-indexed alone.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

/// A document's term counts (Fx-hashed: the indexer counts every token of every file).
pub type TermCounts = FxHashMap<String, u32>;

/// Term-frequency saturation (Pyserini's default).
pub const K1: f64 = 0.9;
/// Length normalisation (Pyserini's default).
pub const B: f64 = 0.4;

/// A BM25 index over documents numbered by the caller.
#[derive(Debug, Default, Clone)]
pub struct Bm25 {
    vocabulary: FxHashMap<String, u32>,
    /// Per term: the documents holding it and how often.
    postings: Vec<Vec<(u32, u32)>>,
    /// Per document: its terms (ids and counts) and its length; `None` when absent or removed.
    docs: Vec<Option<Doc>>,
    live_docs: usize,
    total_len: u64,
}

#[derive(Debug, Clone)]
struct Doc {
    terms: Vec<u32>,
    len: u32,
}

/// One document's `(term id, count)` pairs, as persisted.
pub(crate) type DocTerms = Vec<(u32, u32)>;

impl Bm25 {
    /// Adds document `doc` (replacing what was there) from its term counts.
    pub fn insert(&mut self, doc: usize, counts: &TermCounts) {
        self.remove(doc);
        if self.docs.len() <= doc {
            self.docs.resize(doc + 1, None);
        }
        let mut terms = Vec::with_capacity(counts.len());
        let mut len = 0u32;
        for (term, &count) in counts {
            let id = match self.vocabulary.get(term) {
                Some(&id) => id,
                None => {
                    let id = self.postings.len() as u32;
                    self.vocabulary.insert(term.clone(), id);
                    self.postings.push(Vec::new());
                    id
                }
            };
            self.postings[id as usize].push((doc as u32, count));
            terms.push(id);
            len = len.saturating_add(count);
        }
        self.total_len += u64::from(len);
        self.live_docs += 1;
        self.docs[doc] = Some(Doc { terms, len });
    }

    /// Removes document `doc`, if present.
    pub fn remove(&mut self, doc: usize) {
        let Some(old) = self.docs.get_mut(doc).and_then(Option::take) else {
            return;
        };
        for term in old.terms {
            self.postings[term as usize].retain(|&(d, _)| d as usize != doc);
        }
        self.total_len -= u64::from(old.len);
        self.live_docs -= 1;
    }

    /// The index as plain data for persisting: the vocabulary (only terms some document holds)
    /// and, per document number, its `(term id, count)` pairs (`None` for absent documents).
    pub(crate) fn export(&self) -> (Vec<&str>, Vec<Option<DocTerms>>) {
        let mut names: Vec<&str> = vec![""; self.postings.len()];
        for (term, &id) in &self.vocabulary {
            names[id as usize] = term;
        }
        let mut new_id = vec![u32::MAX; self.postings.len()];
        let mut vocabulary = Vec::new();
        for (id, postings) in self.postings.iter().enumerate() {
            if !postings.is_empty() {
                new_id[id] = vocabulary.len() as u32;
                vocabulary.push(names[id]);
            }
        }
        let mut docs: Vec<Option<Vec<(u32, u32)>>> = self
            .docs
            .iter()
            .map(|d| d.as_ref().map(|d| Vec::with_capacity(d.terms.len())))
            .collect();
        for (id, postings) in self.postings.iter().enumerate() {
            for &(doc, count) in postings {
                if let Some(Some(terms)) = docs.get_mut(doc as usize) {
                    terms.push((new_id[id], count));
                }
            }
        }
        (vocabulary, docs)
    }

    /// Rebuilds an index from [`Bm25::export`]'s data; `None` when a term id is out of range
    /// or a document repeats a term (data that [`Bm25::export`] never writes).
    pub(crate) fn import(
        vocabulary: Vec<String>,
        docs: Vec<(usize, Vec<(u32, u32)>)>,
    ) -> Option<Bm25> {
        let mut bm25 = Bm25 {
            postings: vec![Vec::new(); vocabulary.len()],
            vocabulary: FxHashMap::with_capacity_and_hasher(vocabulary.len(), Default::default()),
            docs: Vec::new(),
            live_docs: 0,
            total_len: 0,
        };
        for (id, term) in vocabulary.into_iter().enumerate() {
            if bm25.vocabulary.insert(term, id as u32).is_some() {
                return None;
            }
        }
        // Each posting list is allocated once at its final length.
        let mut lengths = vec![0usize; bm25.postings.len()];
        for (_, pairs) in &docs {
            for &(id, _) in pairs {
                *lengths.get_mut(id as usize)? += 1;
            }
        }
        for (postings, len) in bm25.postings.iter_mut().zip(lengths) {
            postings.reserve_exact(len);
        }
        for (doc, pairs) in docs {
            if bm25.docs.len() <= doc {
                bm25.docs.resize(doc + 1, None);
            }
            if bm25.docs[doc].is_some() {
                return None;
            }
            let mut terms = Vec::with_capacity(pairs.len());
            let mut len = 0u32;
            for (id, count) in pairs {
                let postings = bm25.postings.get_mut(id as usize)?;
                if postings.last().is_some_and(|&(d, _)| d as usize == doc) {
                    return None;
                }
                postings.push((doc as u32, count));
                terms.push(id);
                len = len.saturating_add(count);
            }
            bm25.total_len += u64::from(len);
            bm25.live_docs += 1;
            bm25.docs[doc] = Some(Doc { terms, len });
        }
        Some(bm25)
    }

    /// Number of documents holding `term`.
    pub fn document_frequency(&self, term: &str) -> usize {
        self.vocabulary
            .get(term)
            .map_or(0, |&id| self.postings[id as usize].len())
    }

    /// Number of documents indexed.
    pub fn len(&self) -> usize {
        self.live_docs
    }

    pub fn is_empty(&self) -> bool {
        self.live_docs == 0
    }

    /// Inverse document frequency of `term` (BM25's, kept non-negative).
    pub fn idf(&self, term: &str) -> f64 {
        let n = self.live_docs as f64;
        let df = self.document_frequency(term) as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }

    /// Scores every document holding a query term; query terms carry weights (e.g. their
    /// count in the query). Returns `(doc, score)` for documents with a positive score.
    pub fn scores(&self, query: &HashMap<String, f64>) -> Vec<(usize, f64)> {
        if self.live_docs == 0 {
            return Vec::new();
        }
        let avg_len = self.total_len as f64 / self.live_docs as f64;
        let mut acc: FxHashMap<u32, f64> = FxHashMap::default();
        for (term, &weight) in query {
            let Some(&id) = self.vocabulary.get(term) else {
                continue;
            };
            let idf = self.idf(term);
            for &(doc, tf) in &self.postings[id as usize] {
                let Some(Some(d)) = self.docs.get(doc as usize) else {
                    continue;
                };
                let tf = f64::from(tf);
                let norm = K1 * (1.0 - B + B * f64::from(d.len) / avg_len.max(1.0));
                *acc.entry(doc).or_default() += weight * idf * tf * (K1 + 1.0) / (tf + norm);
            }
        }
        let mut out: Vec<(usize, f64)> = acc
            .into_iter()
            .filter(|(_, s)| *s > 0.0)
            .map(|(d, s)| (d as usize, s))
            .collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out
    }
}

/// Counts tokens: the shape [`Bm25::insert`] takes.
pub fn count(tokens: impl IntoIterator<Item = String>) -> TermCounts {
    let mut counts = TermCounts::default();
    for token in tokens {
        *counts.entry(token).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(words: &str) -> TermCounts {
        count(words.split_whitespace().map(String::from))
    }

    fn query(words: &str) -> HashMap<String, f64> {
        words
            .split_whitespace()
            .map(|w| (w.to_string(), 1.0))
            .collect()
    }

    #[test]
    fn ranks_the_document_with_the_rare_term_first() {
        let mut index = Bm25::default();
        index.insert(0, &doc("session request send adapter"));
        index.insert(1, &doc("session cookie jar"));
        index.insert(2, &doc("session request"));
        let ranked = index.scores(&query("cookie session"));
        assert_eq!(ranked[0].0, 1);
        assert_eq!(ranked.len(), 3);
    }

    #[test]
    fn an_exported_index_imports_to_the_same_scores() {
        let mut index = Bm25::default();
        index.insert(0, &doc("alpha beta beta"));
        index.insert(2, &doc("beta gamma gamma delta"));
        index.insert(3, &doc("epsilon"));
        index.remove(3);
        let (vocabulary, docs) = index.export();
        assert!(!vocabulary.contains(&"epsilon"), "unused terms are dropped");
        let vocabulary: Vec<String> = vocabulary.into_iter().map(String::from).collect();
        let docs: Vec<(usize, Vec<(u32, u32)>)> = docs
            .into_iter()
            .enumerate()
            .filter_map(|(d, t)| Some((d, t?)))
            .collect();
        let back = Bm25::import(vocabulary.clone(), docs.clone()).unwrap();
        let q = query("beta gamma delta alpha");
        assert_eq!(back.scores(&q), index.scores(&q));
        assert_eq!(back.len(), 2);
        let mut bad = docs.clone();
        bad[0].1.push((99, 1));
        assert!(Bm25::import(vocabulary.clone(), bad).is_none());
        let mut repeated = docs;
        let first = repeated[0].1[0];
        repeated[0].1.push(first);
        assert!(Bm25::import(vocabulary, repeated).is_none());
    }

    #[test]
    fn removing_and_reinserting_gives_the_same_scores() {
        let mut index = Bm25::default();
        index.insert(0, &doc("alpha beta"));
        index.insert(1, &doc("beta gamma gamma"));
        let before = index.scores(&query("gamma beta"));
        index.insert(1, &doc("delta"));
        assert!(index.scores(&query("gamma")).is_empty());
        index.insert(1, &doc("beta gamma gamma"));
        assert_eq!(index.scores(&query("gamma beta")), before);
        index.remove(0);
        index.remove(0);
        assert_eq!(index.len(), 1);
    }
}
