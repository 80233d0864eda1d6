#!/usr/bin/env bash
# Runs the README's curl walk-through (the block between the walkthrough markers) against $BASE.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
script=$(awk '/<!-- walkthrough:start -->/{f=1;next} /<!-- walkthrough:end -->/{f=0} f' "$here/README.md" | sed '/^```/d')
exec bash -euo pipefail -c "$script"
