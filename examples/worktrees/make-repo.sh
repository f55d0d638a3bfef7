#!/bin/sh
# Make the example's git repository: a copy of sample/ in DIR (default: ./calc-demo),
# `git init`ed with one commit. A repository cannot be shipped inside swarm's own.
#
#   examples/worktrees/make-repo.sh [DIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-calc-demo}
if [ -e "$target" ]; then
    echo "make-repo.sh: $target exists already; remove it or name another folder" >&2
    exit 2
fi
mkdir -p "$target"
cp -R "$here/sample/." "$target/"
cd "$target"
git init -q -b main
git add -A
git -c user.name="swarm example" -c user.email="example@localhost" commit -q -m "calc-demo: a tiny codebase with three bugs"
echo "made $(pwd): a git repository with one commit ($(git rev-parse --short HEAD))"
