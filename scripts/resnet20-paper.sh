#!/usr/bin/env bash
# Trains (or continues) the ResNet-20 of results/resnet20-64k: the paper's
# full recipe and schedule (64,000 iterations, seed 1) on real CIFAR-10,
# always with a binary built from one recorded commit, so that every
# segment of the run, across sessions, is one program's run.
#
#   bash scripts/resnet20-paper.sh            # start, or resume from the committed checkpoint
#
# CIFAR10_DATA is the archive (default ../shared/cifar10/cifar-10-binary.tar.gz
# beside the checkout). The run goes on in the foreground; SIGINT writes a
# checkpoint and stops it. Commit results/resnet20-64k/run afterwards
# (config.json, metrics.jsonl, stats.json, checkpoint.safetensors).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/scripts/lib/pinned.sh"
run=results/resnet20-64k/run
commit=$(cat "$repo/results/resnet20-64k/COMMIT")
data=${CIFAR10_DATA:-../shared/cifar10/cifar-10-binary.tar.gz}
cd "$repo"
[[ -e $data ]] || { echo "resnet20-paper.sh: $data: no CIFAR-10 archive (set CIFAR10_DATA)" >&2; exit 2; }
bin=$(pinned_train "$commit")
if [[ -e $run/config.json ]]; then
  exec "$bin" resume "$run" -data "$data"
fi
exec "$bin" run -model resnet20 -seed 1 -data "$data" -out "$run"
