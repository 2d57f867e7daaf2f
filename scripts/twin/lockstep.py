#!/usr/bin/python3
"""Lockstep: the Go trainer and the twin from identical weights on identical batches.

For n = 1..--steps it trains the twin for n iterations (--save-init writes its
initial weights; --data-rng go gives Go's batches) and the Go trainer for n
iterations from those weights (-init-from), then compares the final weights
tensor by tensor: the largest difference as a fraction of the largest update.
It also computes the same steps in float64 PyTorch and reports how far each
float32 implementation is from them after each n (median and worst tensor),
the yardstick for "rounding or bug". results/README.md quotes its output.

    go build -o /tmp/train ./cmd/train
    /usr/bin/python3 scripts/twin/lockstep.py --go-train /tmp/train --model plain20 --steps 3
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_twin as T  # noqa: E402

DTYPES = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64}


def read_safetensors(path):
    b = open(path, 'rb').read()
    n = struct.unpack('<Q', b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for k, v in header.items():
        if k != '__metadata__':
            s, e = v['data_offsets']
            out[k] = np.frombuffer(b[8 + n + s:8 + n + e], dtype=DTYPES[v['dtype']]).reshape(v['shape'])
    return out


def train_pair(go_train, flags, init, twin_dir, go_dir):
    """Trains the twin (on Go's batches, writing its initial weights to init) and
    then the Go trainer from those weights, both with flags (Go's flag package
    takes --flag as -flag)."""
    subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'train_twin.py'),
                    *flags, '--data-rng', 'go', '--save-init', init, '--out', twin_dir],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([go_train, *flags, '--init-from', init, '--out', go_dir], check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--go-train', required=True, help='a built cmd/train binary')
    ap.add_argument('--model', default='plain20')
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--data', default='', help='CIFAR-10 (default $CIFAR10_DATA, else cmd/train\'s cache path)')
    ap.add_argument('--dir', help='work directory (default a new temporary one)')
    a = ap.parse_args()
    a.data = T.data_path(a.data, 'lockstep.py')
    work = a.dir or tempfile.mkdtemp(prefix='lockstep-')
    os.makedirs(work, exist_ok=True)
    common = ['--iters', None, '--lr', str(a.lr), '--milestones', '1000000', '--log-every', '1',
              '--eval-limit', '200', '--data', a.data]
    init_path = os.path.join(work, 'init.safetensors')
    for n in range(1, a.steps + 1):
        common[1] = str(n)
        train_pair(a.go_train, ['--model', a.model, '--eval-every', str(n)] + common, init_path,
                   os.path.join(work, 'twin%d' % n), os.path.join(work, 'ours%d' % n))
    init = read_safetensors(init_path)

    def update_frac(w, ref, k):
        return float(np.abs(w[k].astype(np.float64) - ref[k]).max() / np.abs(ref[k] - init[k]).max())

    for n in range(1, a.steps + 1):
        o = read_safetensors(os.path.join(work, 'ours%d' % n, 'weights.safetensors'))
        t = read_safetensors(os.path.join(work, 'twin%d' % n, 'weights.safetensors'))
        keys = [k for k in t if t[k].dtype != np.int64 and 'running' not in k]
        worst = max((update_frac(o, t, k), k) for k in keys)
        print('after %d step(s): ours vs twin, worst tensor %s differs by %.2e of its update' % (n, worst[1], worst[0]))

    # The same steps in float64 on the same batches: the yardstick for float32
    # rounding. Where both float32 runs stray from it alike, the split between
    # them is rounding amplified by the steps, not a bug in one of them.
    (px, lab), _ = T.load_cifar10(a.data)
    stream = T.TrainStream((px, lab), T.Normalizer(T.compute_stats(px, 'per-pixel-mean')), 128, 1, 'go')
    m = T.build(a.model, False).double()
    m.load_state_dict({k: torch.from_numpy(v.copy()) if v.dtype == np.int64 else torch.from_numpy(v.astype(np.float64))
                       for k, v in init.items()})
    m.train()
    rec = T.paper(a.model)
    opt = torch.optim.SGD(m.parameters(), lr=a.lr, momentum=rec['momentum'], weight_decay=rec['weight_decay'])
    for n in range(1, a.steps + 1):
        x, y = stream.batch_at(n - 1)
        opt.zero_grad()
        F.cross_entropy(m(x.double()), y).backward()
        opt.step()
        ref = {k: p.detach().numpy().copy() for k, p in m.named_parameters()}
        for name, side in (('ours', 'ours%d' % n), ('twin', 'twin%d' % n)):
            w = read_safetensors(os.path.join(work, side, 'weights.safetensors'))
            fr = sorted((update_frac(w, ref, k), k) for k in ref)
            print('after %d step(s), %s vs float64: median %.2e, worst %.2e (%s) of the update'
                  % (n, name, fr[len(fr) // 2][0], fr[-1][0], fr[-1][1]))

if __name__ == '__main__':
    main()
