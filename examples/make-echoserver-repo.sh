#!/usr/bin/env bash
# Creates a git repository holding the echoserver example, for the demo and the end-to-end tests:
#   master:  one commit, examples/echoserver as is;
#   feature: a second commit applying examples/echoserver-feature.patch (changed handlers), so
#            an incremental (diff) report against master has content.
# The work tree is left at the feature commit. Dates and authors are fixed, so the commit ids
# are the same on every machine.
# Usage: examples/make-echoserver-repo.sh DIR   (DIR must not exist or be empty)
# Prints the feature commit id (full) on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: $0 DIR}
mkdir -p "$dir"
if [ -n "$(ls -A "$dir")" ]; then
  echo "$0: $dir is not empty" >&2
  exit 1
fi
cp -r "$here/echoserver/." "$dir/"
cd "$dir"
export GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com
export GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
git -c init.defaultBranch=master init -q
git add -A
git -c commit.gpgsign=false commit -q -m "echoserver: first version"
git checkout -q -b feature
git apply "$here/echoserver-feature.patch"
git add -A
export GIT_AUTHOR_DATE="2024-01-02T00:00:00Z" GIT_COMMITTER_DATE="2024-01-02T00:00:00Z"
git -c commit.gpgsign=false commit -q -m "echoserver: repeat, mod and reverse"
git rev-parse HEAD
