#!/usr/bin/env bash
# Fuzzes ponder's readers of untrusted input with proptest (cargo fuzz needs a nightly toolchain
# and a sanitizer build of llama.cpp; proptest runs on the stable one CI has).
# Runs each target of tests/fuzz.rs and tests/fuzz_answers.rs for SECONDS (default 60), in rounds
# of PONDER_FUZZ_CASES cases (default 2000) with a fresh random seed each, in a release build, and
# prints the cases run per target. A failing case is saved in tests/<file>.regressions (replayed
# first by every later `cargo test`); the script goes on with the next target and exits 1.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
chunk=${PONDER_FUZZ_CASES:-2000}
targets=(
  fuzz:search_replace_never_panics_and_exact_matches_splice
  fuzz:applied_edits_make_a_readable_diff
  fuzz:diff_readers_never_panic
  fuzz:a_journal_cut_anywhere_reads
  fuzz:a_damaged_journal_never_panics
  fuzz:gguf_reader_never_panics
  fuzz:gguf_reader_takes_noise
  fuzz:templates_render_within_limits
  fuzz:sse_events_do_not_depend_on_chunking
  fuzz_answers:answer_parsers_never_panic
)
if [ $# -gt 0 ]; then
  wanted=("$@")
  targets=()
  for name in "${wanted[@]}"; do
    case $name in
      *answer*) targets+=("fuzz_answers:$name") ;;
      *) targets+=("fuzz:$name") ;;
    esac
  done
fi

cargo test --release --quiet --test fuzz --test fuzz_answers --no-run
failed=0
total_cases=0
for target in "${targets[@]}"; do
  file=${target%%:*}
  name=${target#*:}
  start=$SECONDS
  cases=0
  while [ $((SECONDS - start)) -lt "$seconds" ]; do
    if ! PONDER_FUZZ_CASES=$chunk cargo test --release --quiet --test "$file" -- --exact "$name" \
      >"/tmp/ponder-fuzz-$name.log" 2>&1; then
      echo "fuzz: $name FAILED after $cases cases; see /tmp/ponder-fuzz-$name.log and tests/$file.regressions" >&2
      failed=1
      break
    fi
    cases=$((cases + chunk))
  done
  total_cases=$((total_cases + cases))
  printf 'fuzz: %-55s %9d cases in %4d s\n' "$name" "$cases" $((SECONDS - start))
done
printf 'fuzz: %d cases in all, %d s\n' "$total_cases" "$SECONDS"
exit $failed
