#!/usr/bin/env bash
# The main job of README.md: train the dual network on a cohort and segment with uncertainty.
# Usage: scripts/demo.sh [COHORT_DIR]   (no argument: the built-in synthetic cohort)
#
# The trainer, the segmenter and the synthetic cohort do not exist yet (see the open issues);
# until they do, this script builds the project and says so honestly, exiting with status 3.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" release
echo "DualSeg built in $root/build."
echo "Training and segmentation are not implemented yet: nothing was trained or segmented." >&2
exit 3
