#!/usr/bin/env bash
# Runs one seed of the fig6-quick reproduction (results/README.md): this
# trainer's sweep, then the PyTorch twin's on the same batches, each in a
# scratch directory, and copies into results/fig6-quick/{ours,pytorch}/seedN
# every file the results keep (not the checkpoints or weights). Then it
# redraws the comparison over every seed present.
#
#   bash scripts/fig6-quick.sh [-zero-init-residual | -grid] SEED [SCRATCH]
#
# With -zero-init-residual it runs the two ResNets only, every residual
# block starting as the identity, into results/fig6-quick-zero-init/, and
# also draws them against the default-init seeds (against-default/). With
# -grid it runs all nine nets of Figure 6 at the same schedule (the
# fig6-grid-quick preset) into results/fig6-grid-quick/: about 6.5 hours a
# seed at the speed of 2026-12-04.
# SCRATCH (default a new temporary directory) keeps the full run
# directories; run the script again with the same SCRATCH to continue an
# interrupted seed (a session's end): our sweep resumes from its
# checkpoints, the twin's keeps its finished runs and resumes the
# unfinished one from its checkpoint. SCRATCH/COMMIT records the commit the seed started from
# (the checkout must have no uncommitted code then), and every
# continuation runs both trainers as of that commit (scripts/lib/pinned.sh),
# so that a seed is one program's however it was interrupted. CIFAR10_DATA, the variable cmd/train reads, must name the
# CIFAR-10 data (cifar-10-binary.tar.gz or the extracted cifar-10-batches-bin
# directory): both trainers are given that path. One seed takes about 2.5
# hours on the 2-core machine, 1.3 hours with -zero-init-residual.
#
#   CIFAR10_DATA=/path/to/cifar-10-binary.tar.gz bash scripts/fig6-quick.sh 1
set -euo pipefail

usage="usage: bash scripts/fig6-quick.sh [-zero-init-residual | -grid] SEED [SCRATCH]"
variant=() twin_variant=() name=fig6-quick preset=fig6-quick
case ${1:-} in
-zero-init-residual)
  variant=(-models resnet20,resnet56 -zero-init-residual)
  twin_variant=(--models resnet20,resnet56 --zero-init-residual)
  name=fig6-quick-zero-init
  shift
  ;;
-grid)
  name=fig6-grid-quick preset=fig6-grid-quick
  shift
  ;;
esac
seed=${1:?$usage}
[[ $seed =~ ^[1-9][0-9]*$ ]] || { echo "fig6-quick.sh: seed $seed: want a positive integer ($usage)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)
data=${CIFAR10_DATA:-}
[[ -n $data ]] || { echo "fig6-quick.sh: CIFAR10_DATA is not set: set it to the CIFAR-10 archive (cifar-10-binary.tar.gz) or its extracted directory, which both trainers read" >&2; exit 2; }
[[ -e $data ]] || { echo "fig6-quick.sh: CIFAR10_DATA=$data: no such file or directory" >&2; exit 2; }
data=$(cd "$(dirname "$data")" && pwd)/$(basename "$data")
scratch=${2:-$(mktemp -d)}
results=$repo/results/$name
for side in ours pytorch; do
  [[ ! -e $results/$side/seed$seed ]] || { echo "fig6-quick.sh: $results/$side/seed$seed exists" >&2; exit 2; }
done

cd "$repo"
source scripts/lib/pinned.sh
mkdir -p "$scratch"
[[ -e $scratch/COMMIT ]] || head_commit > "$scratch/COMMIT"
commit=$(cat "$scratch/COMMIT")
train=$(pinned_train "$commit")
twin=$(pinned_tree "$commit")/scripts/twin/train_twin.py
"$train" sweep "$preset" "${variant[@]}" -analyze -seed "$seed" -data "$data" -out "$scratch/ours-s$seed"
/usr/bin/python3 "$twin" --sweep "$preset" "${twin_variant[@]}" --seed "$seed" --data-rng go \
  --data "$data" --out "$scratch/torch-s$seed"

# keep copies the sweep-level and per-run files the results keep.
keep() {
  local from=$1 to=$2
  mkdir -p "$to"
  for f in sweep.json summary.json summary.md fig6.png fig7.png; do
    [[ ! -e $from/$f ]] || cp "$from/$f" "$to/"
  done
  for run in "$from"/*/; do
    local m
    m=$(basename "$run")
    mkdir -p "$to/$m"
    for f in config.json metrics.jsonl result.json analysis.json; do
      [[ ! -e $run/$f ]] || cp "$run/$f" "$to/$m/"
    done
  done
}
keep "$scratch/ours-s$seed" "$results/ours/seed$seed"
keep "$scratch/torch-s$seed" "$results/pytorch/seed$seed"
"$train" compare "$results/ours/seed*" "$results/pytorch/seed*" -out "$results"
if [[ $name == fig6-quick-zero-init ]]; then
  "$train" compare "$results/ours/seed*" "$repo/results/fig6-quick/ours/seed*" \
    -names zero-init,default -out "$results/against-default"
fi
