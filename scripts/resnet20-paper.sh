#!/usr/bin/env bash
# Trains (or continues) the ResNet-20 of results/resnet20-64k: the paper's
# full recipe and schedule (64,000 iterations, seed 1) on real CIFAR-10,
# always with a binary built from one recorded commit, so that every
# segment of the run, across sessions, is one program's run.
#
#   bash scripts/resnet20-paper.sh            # start, or resume from the committed checkpoint
#   bash scripts/resnet20-paper.sh -twin      # the same for the PyTorch twin, on the same batches
#
# -twin trains scripts/twin/train_twin.py with the same recipe and seed and
# the Go trainer's batches (--data-rng go) into results/resnet20-64k/twin,
# as of the commit it started from (results/resnet20-64k/TWIN_COMMIT): it
# tells whether a gap to the paper is this trainer's or the data's.
#
# CIFAR10_DATA is the archive (default ../shared/cifar10/cifar-10-binary.tar.gz
# beside the checkout). The run goes on in the foreground; SIGINT writes a
# checkpoint and stops it. Commit results/resnet20-64k/run afterwards
# (config.json, metrics.jsonl, stats.json, checkpoint.safetensors; the
# twin's checkpoint.pt while it runs, its weights.safetensors and
# result.json once it has ended).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib/pinned.sh"
data=${CIFAR10_DATA:-../shared/cifar10/cifar-10-binary.tar.gz}
cd "$repo"
[[ -e $data ]] || { echo "resnet20-paper.sh: $data: no CIFAR-10 archive (set CIFAR10_DATA)" >&2; exit 2; }
if [[ ${1:-} == -twin ]]; then
  run=results/resnet20-64k/twin
  [[ -e results/resnet20-64k/TWIN_COMMIT ]] || head_commit > results/resnet20-64k/TWIN_COMMIT
  twin=$(pinned_tree "$(cat results/resnet20-64k/TWIN_COMMIT)")/scripts/twin/train_twin.py
  if [[ -e $run/config.json ]]; then
    exec /usr/bin/python3 "$twin" --resume "$run" --data "$data"
  fi
  exec /usr/bin/python3 "$twin" --model resnet20 --seed 1 --data-rng go --data "$data" --out "$run"
fi
[[ $# -eq 0 ]] || { echo "usage: bash scripts/resnet20-paper.sh [-twin]" >&2; exit 2; }
run=results/resnet20-64k/run
commit=$(cat results/resnet20-64k/COMMIT)
bin=$(pinned_train "$commit")
if [[ -e $run/config.json ]]; then
  exec "$bin" resume "$run" -data "$data"
fi
exec "$bin" run -model resnet20 -seed 1 -data "$data" -out "$run"
