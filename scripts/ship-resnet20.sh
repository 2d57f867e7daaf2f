#!/usr/bin/env bash
# Ships the finished ResNet-20 of results/resnet20-64k: exports the run's
# final weights to pretrained/files/resnet20.safetensors (the default
# weights of `train eval` and `train predict`, embedded by package
# pretrained), writes results/resnet20-64k/MODEL_CARD.md from its template,
# and runs the tests that check both against `train eval` on the real test
# set.
#
#   bash scripts/resnet20-paper.sh    # until the run has its 64,000 iterations
#   bash scripts/ship-resnet20.sh
#
# CIFAR10_DATA is the archive to measure the test error on (default: the one
# the run recorded in run/config.json). Commit what it lists at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
run=results/resnet20-64k/run
out=pretrained/files/resnet20.safetensors
data=()
if [[ -n ${CIFAR10_DATA:-} ]]; then data=(-data "$CIFAR10_DATA"); fi
go run ./cmd/train export "$run" -commit "$(cat results/resnet20-64k/COMMIT)" -out "$out" "${data[@]}"
go test ./pretrained -run TestModelCards -update
go test ./pretrained
log=$(go test ./cmd/train -run Shipped -v) || { echo "$log"; exit 1; }
echo "$log"
if grep -q -- '--- SKIP' <<<"$log"; then
  echo "ship-resnet20.sh: a test of the shipped weights was skipped (no ../shared/cifar10 archive?)" >&2
  exit 1
fi
echo "ship-resnet20.sh: commit $out and results/resnet20-64k/MODEL_CARD.md"
