#!/usr/bin/env bash
# Table 3 of the paper in both recipes: 4 variants x 3 seeds, 2,000 steps each, on synthetic 128x64 people
# (notebook 13). One recipe per call; results go to nbs/ablation/RECIPE (small, committed), data and
# checkpoints to WORK/RECIPE (not committed). Finished runs are kept in results.json, so calling it again
# (in this session or a later one) does only the runs that are missing; a run interrupted in this session
# resumes from its checkpoint. Usage: tools/table3.sh paper|ours [WORK]  (OUT_ROOT: where the results go, default nbs/ablation)
set -euo pipefail
recipe=${1:?usage: tools/table3.sh paper|ours [WORK]}
work=${2:-/work/t3work}/$recipe
cd "$(dirname "$0")/.."
case $recipe in
  paper) steps="--steps1 800 --steps2 1200" ;;  # the paper's flow networks start from zero: 40% of the steps in stage 1
  ours)  steps="--steps1 200 --steps2 1800" ;;  # ours start from the skeleton flow: 10% (the presets' share)
  *) echo "recipe must be paper or ours" >&2; exit 2 ;;
esac
common="--preset demo --recipe $recipe $steps --seeds 3 --identities 300 --eval-pairs 360 --workers 0 --allow-random-vgg --out ${OUT_ROOT:-nbs/ablation}/$recipe --work $work"
structflow ablation $common --variants full,no_part            # the flow claim first: Full and w/o Part, 3 seeds
structflow ablation $common --variants no_hdcb,no_pnb --all-seeds
python tools/figure6_masks.py ${OUT_ROOT:-nbs/ablation}/$recipe $work/data  # runs of older code stored unmasked flow tiles: bring them to today's drawing (idempotent)
