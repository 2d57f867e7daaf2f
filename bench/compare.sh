#!/usr/bin/env bash
# Times our training steps and inference against PyTorch's on this machine,
# alternating the two per measurement, ROUNDS times over, so that both see the
# same load; each side's figure is the median over rounds of its per-round
# median step time. It ends with one line per measurement:
# "ratio <model> <kind> <ours/pytorch>". With several thread counts it
# measures each at every round, one after another, and also prints each
# side's speed-up from the fewest threads to each other count, per round and
# as the median over rounds ("speedup <impl> <model> <kind> <threads> <x>").
#
#   bench/compare.sh                       # resnet20 resnet56 training, resnet20 inference
#   bench/compare.sh resnet20 resnet110    # these models' training steps, resnet20 inference
#   THREADS="1 2" INFER="" bench/compare.sh resnet20   # 1 -> 2 thread scaling of both sides
#
# Environment: ROUNDS (3), THREADS (2, or a list such as "1 2"), BATCH (128), STEPS (10), WARMUP (3), INFER (resnet20; empty for none),
# TORCH_BENCH (bench/torch_resnet_cifar.py, this repository's copy of the PyTorch anchor),
# TORCH_MALLOC (tuned; "default" runs PyTorch with glibc's malloc as installed).
#
# PyTorch runs with glibc's malloc told to keep the memory it frees. As
# installed, glibc returns each freed activation above its mmap threshold to
# the kernel, and the next step faults it in again page by page: ResNet-20
# inference in a fresh process took 154-450 ms, against 43-50 ms with the
# tunables below (and 42-45 ms as installed once a training step had run in the
# same process, which raises glibc's adaptive threshold); a ResNet-20 training
# step 182-209 against 175-192 ms. PyTorch's CPU performance guide gives the same
# advice with jemalloc or tcmalloc: Debian's tcmalloc measured like the
# tunables, its jemalloc 4 to 9 times slower. Go's runtime does not use malloc.
set -euo pipefail
cd "$(dirname "$0")/.."

models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet20 resnet56)
read -ra thread_counts <<< "${THREADS:-2}"
batch=${BATCH:-128} steps=${STEPS:-10} warmup=${WARMUP:-3}
infer=${INFER-resnet20}
rounds=${ROUNDS:-3}
torch_bench=${TORCH_BENCH:-bench/torch_resnet_cifar.py}
torch_env=(GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824)
case ${TORCH_MALLOC:-tuned} in
  tuned) ;;
  default) torch_env=() ;;
  *) echo "compare.sh: TORCH_MALLOC is \"$TORCH_MALLOC\"; want tuned or default" >&2; exit 2 ;;
esac

if [ ! -f "$torch_bench" ]; then
  echo "compare.sh: no PyTorch benchmark at $torch_bench (set TORCH_BENCH)" >&2
  exit 2
fi
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "compare.sh: installing Debian's PyTorch (python3-torch)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch >/dev/null
fi

bin=$(mktemp -d)/bench
go build -o "$bin" ./cmd/bench
results=$(mktemp)

measure() { # kind model threads
  local kind=$1 model=$2 threads=$3 ours theirs
  local common=(-batch "$batch" -steps "$steps" -warmup "$warmup" -threads "$threads")
  if [ "$kind" = train ]; then
    ours=("$bin" -models "$model" -infer "" "${common[@]}")
    theirs=(env "${torch_env[@]}" /usr/bin/python3 "$torch_bench" --models "$model" --infer "" --batch "$batch" --steps "$steps" --warmup "$warmup" --threads "$threads")
  else
    ours=("$bin" -models "" -infer "$model" "${common[@]}")
    theirs=(env "${torch_env[@]}" /usr/bin/python3 "$torch_bench" --models "" --infer "$model" --batch "$batch" --steps "$steps" --warmup "$warmup" --threads "$threads")
  fi
  "${ours[@]}" | grep '^{' | sed 's/^{/{"impl": "ours", /' | tee -a "$results"
  "${theirs[@]}" | grep '^{' | sed 's/^{/{"impl": "pytorch", /' | tee -a "$results"
}

for round in $(seq "$rounds"); do
  echo "# round $round of $rounds" >&2
  for t in "${thread_counts[@]}"; do
    for m in "${models[@]}"; do measure train "$m" "$t"; done
    for m in $(echo "$infer" | tr , ' '); do measure infer "$m" "$t"; done
  done
done

/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
runs = {}  # (model, kind, threads) -> impl -> rows in round order
for r in rows:
    runs.setdefault((r["model"], r["kind"], r["threads"]), {}).setdefault(r["impl"], []).append(r)
by = {}
for key, impls in runs.items():
    for impl, rs in impls.items():
        # The round with the median step time stands for the side.
        rs = sorted(rs, key=lambda r: r["ms_median"])
        by.setdefault(key, {})[impl] = dict(rs[len(rs) // 2], ms_median=statistics.median(r["ms_median"] for r in rs))
print()
print("| model | kind | threads | ours ms | PyTorch ms | ours/PyTorch | ours peak RSS MB | ours alloc/step |")
print("|---|---|---:|---|---|---|---|---|")
for (m, k, t), d in by.items():
    if "ours" in d and "pytorch" in d:
        o, p = d["ours"], d["pytorch"]
        print(f"| {m} | {k} | {t} | {o['ms_median']:.0f} | {p['ms_median']:.0f} | {o['ms_median']/p['ms_median']:.2f} | {o.get('peak_rss_mb', 0):.0f} | {o.get('alloc_bytes_per_step', 0):.0f} |")
thread_counts = sorted({t for (_, _, t) in runs})
speedups = []  # (impl, model, kind, threads, per-round speed-ups)
for (m, k, t), impls in runs.items():
    base = runs.get((m, k, thread_counts[0]), {})
    if t == thread_counts[0]:
        continue
    for impl, rs in impls.items():
        if impl in base:
            speedups.append((impl, m, k, t, [b["ms_median"] / r["ms_median"] for b, r in zip(base[impl], rs)]))
if speedups:
    print()
    print(f"| side | model | kind | threads | speed-up over {thread_counts[0]} thread(s), per round | median |")
    print("|---|---|---|---:|---|---:|")
    for impl, m, k, t, xs in speedups:
        print(f"| {impl} | {m} | {k} | {t} | {', '.join(f'{x:.2f}' for x in xs)} | {statistics.median(xs):.2f} |")
print()
for (m, k, t), d in by.items():
    if "ours" in d and "pytorch" in d:
        suffix = f" threads {t}" if len(thread_counts) > 1 else ""
        print(f"ratio {m} {k} {d['ours']['ms_median']/d['pytorch']['ms_median']:.3f}{suffix}")
for impl, m, k, t, xs in speedups:
    print(f"speedup {impl} {m} {k} {t} {statistics.median(xs):.3f}")
PY
