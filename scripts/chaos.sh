#!/usr/bin/env bash
# Crash safety: kills a scripted `ponder fix` with SIGKILL at N random moments (default 10) and
# checks, after each kill, that
#   - the user's files, history and branches are as before (ponder's own worktree entries and
#     ponder/* branches in .git may be left by the kill),
#   - the journal reads (`ponder export … --format traj`),
#   - `ponder resume` finishes the session verified,
#   - and after that next start the repository is byte-identical to before (every file, .git
#     included): no ponder worktree, branch or temporary folder is left.
# The fix is the demo's: its project as the repository, its script as the model, its tests.
# Usage: scripts/chaos.sh [N]   (PONDER_BIN=path to use a built binary; SEED=n to repeat a run)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-10}
seed=${SEED:-$RANDOM}
RANDOM=$seed
if [ -z "${PONDER_BIN:-}" ]; then
  cargo build --quiet
  PONDER_BIN=target/debug/ponder
fi
bin=$(realpath "$PONDER_BIN")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Journals, config and ponder's temporary folders all live in $work.
export PONDER_DATA_DIR="$work/data" XDG_CONFIG_HOME="$work/config" TMPDIR="$work/tmp"
mkdir -p "$TMPDIR"
repo="$work/repo"
cp -r assets/demo/project "$repo"
git -C "$repo" init -q
git -C "$repo" add -A
GIT_AUTHOR_DATE=2025-01-01T00:00:00Z GIT_COMMITTER_DATE=2025-01-01T00:00:00Z \
  git -C "$repo" -c user.name=chaos -c user.email=chaos@example.com commit -q -m "demo project"

# Every file of the repository with its hash (empty folders git leaves behind do not count).
fingerprint() { (cd "$repo" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# The same without ponder's own bookkeeping in .git (its worktrees' entries and their ponder/*
# branches), which a kill leaves behind until the next start removes it.
user_fingerprint() {
  fingerprint | grep -v -E '\./\.git/(worktrees/ponder-|refs/heads/ponder/|logs/refs/heads/ponder/)' || true
}
before=$(fingerprint)
user_before=$(user_fingerprint)

fix_args=(fix --repo "$repo" --issue-file assets/demo/issue.md --script assets/demo/script.toml
  --test-cmd "python3 -m unittest" --budget 4 --headless)
fix() {
  "$bin" "${fix_args[@]}" >"$work/fix.log" 2>&1
}

started=$(date +%s%N)
fix || { cat "$work/fix.log"; echo "chaos: the uninterrupted fix failed" >&2; exit 1; }
clean_ms=$(( ($(date +%s%N) - started) / 1000000 ))
rm -rf "$PONDER_DATA_DIR"
echo "chaos: an uninterrupted fix takes ${clean_ms} ms; $runs kills (SEED=$seed)"

failures=0
fail() { echo "chaos: run $1: $2" >&2; failures=$((failures + 1)); }

for run in $(seq 1 "$runs"); do
  # Each run's journal is the only one: a kill before it exists must not find the last run's.
  rm -rf "$PONDER_DATA_DIR"
  delay_ms=$(( (RANDOM * 32768 + RANDOM) % (clean_ms + 1) ))
  # `exec` makes the background job ponder itself: killing a shell that runs it as a child
  # would leave ponder running on, and the checks below would race it.
  (exec "$bin" "${fix_args[@]}" >"$work/fix.log" 2>&1) &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -9 "$pid" 2>/dev/null; then killed=yes; else killed=no; fi
  wait "$pid" 2>/dev/null && status=0 || status=$?
  journal=$(find "$PONDER_DATA_DIR" -name '*.jsonl' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2- || true)
  stage="-"
  if [ -n "$journal" ]; then
    stage=$(grep -o '"kind":"stage_started","stage":"[a-z]*"' "$journal" | tail -1 | sed 's/.*"stage":"\([a-z]*\)"/\1/' || true)
  fi
  now=$(user_fingerprint)
  [ "$now" = "$user_before" ] || fail "$run" "the repository changed after the kill at ${delay_ms} ms: $(diff <(echo "$user_before") <(echo "$now") | grep '^[<>]' | head -5 | tr '\n' ' ')"
  if [ -z "$journal" ]; then
    # Killed before the journal existed: the next start is a new fix.
    fix || fail "$run" "the fix after an early kill failed: $(tail -3 "$work/fix.log")"
    outcome="new fix"
  elif [ "$killed" = no ]; then
    [ "$status" -eq 0 ] || fail "$run" "the fix ended by itself, unverified"
    outcome="had finished"
  else
    "$bin" export "$journal" --format traj -o "$work/trajectory.json" >/dev/null 2>"$work/export.log" \
      || fail "$run" "the journal does not read: $(cat "$work/export.log")"
    if "$bin" resume "$journal" --headless >"$work/resume.log" 2>&1; then
      outcome="resumed, verified"
    elif grep -q "already finished" "$work/resume.log"; then
      # Killed after the last event was written: nothing to resume; it must have ended verified.
      grep -q '"outcome":{"status":"verified"' "$journal" || fail "$run" "the finished journal is not verified"
      outcome="had finished"
    else
      fail "$run" "resume did not end verified: $(tail -3 "$work/resume.log")"
      outcome="resume FAILED"
    fi
  fi
  [ "$(fingerprint)" = "$before" ] || fail "$run" "the repository changed after the next start"
  worktrees=$(git -C "$repo" worktree list --porcelain | grep -c '^worktree ' || true)
  [ "$worktrees" -eq 1 ] || fail "$run" "$((worktrees - 1)) worktree(s) left: $(git -C "$repo" worktree list)"
  branches=$(git -C "$repo" branch --list 'ponder/*' | wc -l)
  [ "$branches" -eq 0 ] || fail "$run" "branches left: $(git -C "$repo" branch --list 'ponder/*' | tr '\n' ' ')"
  folders=$(find "$TMPDIR" -maxdepth 1 -name 'ponder-wt-*' | wc -l)
  [ "$folders" -eq 0 ] || fail "$run" "$folders temporary worktree folder(s) left in $TMPDIR"
  printf 'chaos: run %d: kill at %5d ms (stage %s): %s\n' "$run" "$delay_ms" "${stage:--}" "$outcome"
done

if [ "$failures" -gt 0 ]; then
  echo "chaos: $failures failure(s) in $runs runs (SEED=$seed)" >&2
  exit 1
fi
echo "chaos: $runs of $runs kills recovered: repository byte-identical, journal read, resume verified, nothing left"
