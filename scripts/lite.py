#!/usr/bin/env python3
"""Builds SWE-bench Lite instance sets for `ponder eval shortlist`, outside the repository.

    scripts/lite.py --lite swe-bench-lite.json --repos DIR --out DIR

`--lite` is the Lite test split as one JSON list (`swe-bench-lite.json` in ivan4722/csvtransfer at
commit 9039a5db8b617ae6cf2c63bc08c295958c8a4968, a copy of princeton-nlp/SWE-bench_Lite).
`--repos` holds a git clone (bare or not, with history) of each repository, named
`owner+name`, `owner__name` or `owner+name/repo`; repositories without one are left out and named.

`--sdists` stands in for a development repository that has no clone (django, scikit-learn and
matplotlib are larger than some machines may fetch): each instance gets the source distribution
of the highest release PyPI received before the issue was opened (pre-releases count: they are
the development branch at that time), unpacked into a one-commit git repository under
`OUT/sdists/`. A release made after the issue would often hold the fix itself (the first try,
each instance's own `X.Y` release, held the gold patch's new lines in 112 of 160). That tree is
older than the base commit, so it approximates it: good for developing rules, not for held-out
figures. Such rows carry `"tree": "sdist NAME-RELEASE"` and `"sdist_release"`.

It writes into `--out`:
  - `dev.jsonl`: Lite's django, scikit-learn and matplotlib instances, to develop on;
  - `heldout.jsonl`: Lite's other repositories but the four of ../shared/eval, kept for measuring;
  - `prepare.sh INSTANCE_ID DEST`: a checkout of the instance's base commit (objects shared with
    the clone, nothing copied), the contract of ../shared/eval/prepare.sh.

Rows follow ../shared/eval/instances.jsonl: instance_id, repo, base_commit, splits,
problem_statement, gold_patch, gold_files, test_patch, FAIL_TO_PASS, PASS_TO_PASS, version.
Nothing here belongs in the repository: the output folder is a cache.
"""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import urllib.parse
import urllib.request

# The repositories of ../shared/eval: developed on since the start, in neither set.
EVAL = {"psf/requests", "pallets/flask", "pylint-dev/pylint", "mwaskom/seaborn"}
# Lite repositories added to development (issue 18).
DEV = {"django/django", "scikit-learn/scikit-learn", "matplotlib/matplotlib"}

PREPARE = r"""#!/usr/bin/env bash
# Written by scripts/lite.py: checks out an instance's base commit from the clones it was given.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: prepare.sh INSTANCE_ID DEST_DIR" >&2; exit 1; fi
here="$(cd "$(dirname "$0")" && pwd)"
line="$(grep -h "\"instance_id\": \"$1\"" "$here"/dev.jsonl "$here"/heldout.jsonl | head -n 1 || true)"
if [ -z "$line" ]; then echo "prepare.sh: unknown instance $1" >&2; exit 1; fi
repo="$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["repo"])')"
base="$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["base_commit"])')"
if [ -e "$2" ] && [ -n "$(ls -A "$2")" ]; then echo "prepare.sh: $2 is not empty" >&2; exit 1; fi
src="$(grep -F "$repo " "$here/clones.txt" | cut -d' ' -f2- || true)"
if [ -z "$src" ]; then
  release="$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["sdist_release"])')"
  src="$(grep -F "$repo $release " "$here/sdists.txt" | cut -d' ' -f3-)"
  git clone -q --shared "$src" "$2" >&2
  cd "$2" && pwd
  exit 0
fi
git clone -q --shared --no-checkout "$src" "$2" >&2
git -C "$2" -c advice.detachedHead=false checkout -q -B base "$base" >&2
cd "$2" && pwd
"""


def gold_files(patch):
    return [m.group(1) for m in re.finditer(r"^diff --git a/(\S+) b/", patch, re.M)]


def clone_of(repos, repo):
    owner, name = repo.split("/")
    for candidate in (f"{owner}+{name}/repo", f"{owner}+{name}", f"{owner}__{name}", name):
        path = os.path.join(repos, candidate)
        if os.path.isdir(path):
            return os.path.abspath(path)
    return None


# PyPI's name of each repository that may stand in as an sdist.
PYPI = {"django/django": "django", "scikit-learn/scikit-learn": "scikit-learn",
        "matplotlib/matplotlib": "matplotlib"}


RELEASES = {}


def version_key(version):
    """An ordering key for `X.Y[.Z][aN|bN|rcN]`, None for other forms (post, dev releases)."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?(?:(a|b|rc)(\d+))?", version)
    if not m:
        return None
    stage = {"a": 0, "b": 1, "rc": 2, None: 3}[m.group(4)]
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), stage, int(m.group(5) or 0))


def release_before(repo, created_at):
    """The highest release of `repo` whose sdist PyPI received before `created_at` (ISO 8601), as
    (version, url); None if there is none."""
    name = PYPI[repo]
    if name not in RELEASES:
        with urllib.request.urlopen(f"https://pypi.org/pypi/{name}/json") as page:
            base = page.geturl()
            releases = json.load(page)["releases"]
        for files in releases.values():
            for f in files:
                f["url"] = urllib.parse.urljoin(base, f["url"])
        RELEASES[name] = releases
    best = None
    for version, files in RELEASES[name].items():
        key = version_key(version)
        sdist = [f for f in files if f["packagetype"] == "sdist" and f["url"].endswith(".tar.gz")]
        if key is None or not sdist or sdist[0]["upload_time_iso_8601"] >= created_at:
            continue
        if best is None or key > best[0]:
            best = (key, version, sdist[0]["url"])
    return best and best[1:]


def sdist_repo(out, repo, release, url):
    """A one-commit git repository of `repo`'s sdist of `release` from `url`, made once."""
    name = PYPI[repo]
    dest = os.path.join(out, "sdists", f"{repo.replace('/', '+')}-{release}")
    if os.path.isdir(os.path.join(dest, ".git")):
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    archive = dest + ".tar.gz"
    urllib.request.urlretrieve(url, archive)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) < 2 or not (member.isfile() or member.isdir()):
                continue
            if parts[1].split("/")[0].endswith(".egg-info") or parts[1] == "PKG-INFO":
                continue
            member.name = parts[1]
            tar.extract(member, dest, filter="data")
    os.remove(archive)
    git = ["git", "-C", dest, "-c", "user.name=lite", "-c", "user.email=lite@localhost"]
    subprocess.run(git[:3] + ["init", "-q"], check=True)
    subprocess.run(git + ["add", "-A", "-f"], check=True)
    subprocess.run(git + ["commit", "-q", "-m", f"{name} {release} sdist"], check=True)
    return dest


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lite", required=True)
    parser.add_argument("--repos", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--sdists", action="store_true",
                        help="stand in for development repositories without a clone with sdists")
    args = parser.parse_args()
    with open(args.lite) as f:
        rows = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    clones, missing, sdists, missing_release = {}, set(), {}, []
    sets = {"dev": [], "heldout": []}
    for row in rows:
        repo = row["repo"]
        if repo in EVAL:
            continue
        if repo not in clones and repo not in missing:
            path = clone_of(args.repos, repo)
            if path is None:
                missing.add(repo)
            else:
                clones[repo] = path
        tree = None
        if repo in missing:
            if not (args.sdists and repo in PYPI):
                continue
            found = release_before(repo, row["created_at"])
            if found is None:
                missing_release.append(row["instance_id"])
                continue
            release, url = found
            key = (repo, release)
            if key not in sdists:
                sdists[key] = sdist_repo(args.out, repo, release, url)
            tree = release
        out = {
            "instance_id": row["instance_id"],
            "repo": repo,
            "base_commit": row["base_commit"],
            "splits": ["lite"],
            "problem_statement": row["problem_statement"],
            "gold_patch": row["patch"],
            "gold_files": gold_files(row["patch"]),
            "test_patch": row["test_patch"],
            "FAIL_TO_PASS": json.loads(row["FAIL_TO_PASS"]),
            "PASS_TO_PASS": json.loads(row["PASS_TO_PASS"]),
            "version": row["version"],
        }
        if tree:
            out["tree"] = f"sdist {PYPI[repo]}-{tree}"
            out["sdist_release"] = tree
        sets["dev" if repo in DEV else "heldout"].append(out)
    for name, items in sets.items():
        items.sort(key=lambda r: r["instance_id"])
        with open(os.path.join(args.out, f"{name}.jsonl"), "w") as f:
            for item in items:
                f.write(json.dumps(item) + "\n")
        print(f"{name}.jsonl: {len(items)} instances", file=sys.stderr)
    with open(os.path.join(args.out, "clones.txt"), "w") as f:
        for repo, path in sorted(clones.items()):
            f.write(f"{repo} {path}\n")
    with open(os.path.join(args.out, "sdists.txt"), "w") as f:
        for (repo, release), path in sorted(sdists.items()):
            f.write(f"{repo} {release} {path}\n")
    prepare = os.path.join(args.out, "prepare.sh")
    with open(prepare, "w") as f:
        f.write(PREPARE)
    os.chmod(prepare, os.stat(prepare).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for repo in sorted(missing):
        if args.sdists and repo in PYPI:
            releases = sorted((r for (o, r) in sdists if o == repo), key=version_key)
            print(f"no clone of {repo}: sdists of {', '.join(releases)} stand in",
                  file=sys.stderr)
        else:
            print(f"no clone of {repo} in {args.repos}: its instances are left out",
                  file=sys.stderr)
    if missing_release:
        print(f"no release on PyPI before the issue, left out: {', '.join(missing_release)}",
              file=sys.stderr)
    print(os.path.abspath(args.out))


if __name__ == "__main__":
    main()
