//! What the fuzz targets (tests/fuzz.rs, tests/fuzz_answers.rs) share: how many cases they run
//! and where proptest keeps the failures it found.

use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};

/// Cases per target: `PONDER_FUZZ_CASES`, else `default`; failures are kept in
/// `tests/<file>.regressions` and replayed first.
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PONDER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        max_shrink_iters: 2_000,
        ..ProptestConfig::default()
    }
}
