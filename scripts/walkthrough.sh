#!/usr/bin/env bash
# Runs one of the README's curl walk-throughs against $BASE: the block between the markers
# <!-- walkthrough:start --> … (no argument), or <!-- walkthrough-NAME:start --> … for NAME
# (samples, gallery).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
name=walkthrough${1:+-$1}
script=$(awk -v s="<!-- $name:start -->" -v e="<!-- $name:end -->" '$0==s{f=1;next} $0==e{f=0} f' "$here/README.md" | sed '/^```/d')
[ -n "$script" ] || { echo "no block $name in README.md" >&2; exit 2; }
exec bash -euo pipefail -c "$script"
