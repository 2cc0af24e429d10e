#!/usr/bin/env bash
# Installs the system packages ponder's build, tests and demo need, when they are missing.
# Called by the README's commands and by .ci/run. Debian/Ubuntu (apt-get); elsewhere it names what
# to install and stops.
set -euo pipefail

# command → Debian package that provides it
needs=(
  "cc:gcc"        # C code in git2's vendored libgit2
  "git:git"       # worktrees in tests and verification
  "python3:python3" # the demo project and its tests
  "c++:g++"       # llama.cpp is C++
  "cmake:cmake"   # builds llama.cpp (llama-cpp-sys-2)
  "clang:clang"   # bindgen for llama.cpp's headers
  "tmux:tmux"     # the interface's end-to-end test (skipped without it)
  "bwrap:bubblewrap" # the sandbox where Landlock is missing or older than v3 (and its tests)
)

missing=()
for pair in "${needs[@]}"; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# bindgen also needs libclang itself
if ! ldconfig -p 2>/dev/null | grep 'libclang\(-[0-9.]*\)\?\.so' >/dev/null; then
  missing+=("libclang-dev")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: please install: ${missing[*]}" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: run as root or install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
