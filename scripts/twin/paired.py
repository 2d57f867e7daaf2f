#!/usr/bin/python3
"""Paired runs: is one implementation systematically ahead, or is it chaos?

For each seed the twin trains from its own initial weights (--save-init) on
Go's batches (--data-rng go), and the Go trainer trains from the same weights
(-init-from) on the same batches. Float32 rounding separates the two runs
within a few steps (lockstep.py), so one pair proves nothing; over several
pairs, correct implementations are each ahead about half the time. It prints,
per seed, the mean training loss over the last --window iterations and the
final test error of both, and how many pairs each side wins.

    go build -o /tmp/train ./cmd/train
    /usr/bin/python3 scripts/twin/paired.py --go-train /tmp/train --model plain20 --iters 300 --seeds 1,2,3,4,5
"""
import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_twin as T  # noqa: E402
from lockstep import train_pair  # noqa: E402


def metrics(run):
    with open(os.path.join(run, 'metrics.jsonl')) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(points, iters, window):
    late = [p['train_loss'] for p in points if p['iter'] > iters - window]
    tests = [p['test_err'] for p in points if p['test_err'] is not None]
    if not late or not tests:
        sys.exit('paired.py: a run logged no training loss in the window or no test error')
    return sum(late) / len(late), tests[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--go-train', required=True, help='a built cmd/train binary')
    ap.add_argument('--model', default='plain20')
    ap.add_argument('--iters', type=int, default=300)
    ap.add_argument('--milestones', default='750,1125', help="the LR schedule's milestones (default fig6-quick's: a constant 0.1 before 750)")
    ap.add_argument('--seeds', default='1,2,3,4,5')
    ap.add_argument('--window', type=int, default=100, help='iterations at the end whose training loss is averaged')
    ap.add_argument('--data', default='', help='CIFAR-10 (default $CIFAR10_DATA, else cmd/train\'s cache path)')
    ap.add_argument('--workdir', help='keep the runs here (default a temporary directory)')
    a = ap.parse_args()
    a.data = T.data_path(a.data, 'paired.py')
    try:
        seeds = [int(s) for s in a.seeds.split(',')]
    except ValueError:
        sys.exit(f'paired.py: --seeds {a.seeds!r}: want comma-separated integers')
    work = a.workdir or tempfile.mkdtemp(prefix='paired-')
    os.makedirs(work, exist_ok=True)
    common = ['--model', a.model, '--iters', str(a.iters), '--milestones', a.milestones, '--log-every', '25',
              '--eval-every', str(a.iters), '--data', a.data]
    print(f'{a.model}, {a.iters} iterations, milestones {a.milestones}; train loss = mean over the last {a.window} iterations')
    print('| seed | train loss, ours | train loss, PyTorch | test err, ours | test err, PyTorch |')
    print('|---:|---:|---:|---:|---:|')
    ahead = [0, 0]
    for seed in seeds:
        init = os.path.join(work, f'init-{seed}.safetensors')
        twin, ours = os.path.join(work, f'torch-{seed}'), os.path.join(work, f'go-{seed}')
        train_pair(a.go_train, common + ['--seed', str(seed)], init, twin, ours)
        (lo, eo), (lt, et) = summarize(metrics(ours), a.iters, a.window), summarize(metrics(twin), a.iters, a.window)
        ahead[0 if lo < lt else 1] += 1
        print(f'| {seed} | {lo:.4f} | {lt:.4f} | {100 * eo:.2f}% | {100 * et:.2f}% |', flush=True)
    print(f'\nlower training loss: ours in {ahead[0]} of {len(seeds)} pairs, PyTorch in {ahead[1]}')


if __name__ == '__main__':
    main()
