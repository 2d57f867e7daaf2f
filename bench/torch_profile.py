#!/usr/bin/env python3
"""PyTorch's training step, op by op: the twin of `go run ./cmd/bench -ops`.

Builds the network of torch_resnet_cifar.py (this directory's copy of the PyTorch anchor),
runs WARMUP training steps (SGD, momentum 0.9, weight decay 1e-4), then STEPS more under
torch.profiler, and prints one JSON line per op class with the self CPU time per step, in
the classes and schema of cmd/bench -ops, so that the two tables line up:

    /usr/bin/python3 bench/torch_profile.py --models resnet20 --threads 2

convolution_backward computes the input and the weight gradients in one aten op, so
PyTorch's row is "conv 3x3 backward" (both); what no class takes (the autograd engine, copies,
fills, views) is "framework and the rest".
"""
import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_resnet_cifar import build  # noqa: E402

# aten op -> class, as layers.opClass names ours.
CLASSES = {
    'aten::mkldnn_convolution': 'conv 3x3 forward',
    'aten::thnn_conv2d': 'conv 3x3 forward',
    'aten::_slow_conv2d_forward': 'conv 3x3 forward',
    'aten::convolution_backward': 'conv 3x3 backward (input and weight gradients)',
    'aten::native_batch_norm': 'batch norm forward',
    'aten::native_batch_norm_backward': 'batch norm backward',
    'aten::relu': 'relu (and residual add) forward',
    'aten::relu_': 'relu (and residual add) forward',
    'aten::clamp_min': 'relu (and residual add) forward',
    'aten::clamp_min_': 'relu (and residual add) forward',
    'aten::add': 'relu (and residual add) forward',
    'aten::threshold_backward': 'relu (and residual add) backward',
    'aten::constant_pad_nd': 'pooling and shortcuts forward',
    'aten::slice': 'pooling and shortcuts forward',
    'aten::mean': 'pooling and shortcuts forward',
    'aten::_adaptive_avg_pool2d': 'pooling and shortcuts forward',
    'aten::_adaptive_avg_pool2d_backward': 'pooling and shortcuts backward',
    'aten::slice_backward': 'pooling and shortcuts backward',
    'aten::addmm': 'linear forward',
    'aten::mm': 'linear backward',
    'aten::_log_softmax': 'loss forward',
    'aten::nll_loss_forward': 'loss forward',
    'aten::_log_softmax_backward_data': 'loss backward',
    'aten::nll_loss_backward': 'loss backward',
    'aten::_foreach_add_': 'sgd update',
    'aten::_foreach_mul_': 'sgd update',
    'aten::_foreach_add': 'sgd update',
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, required=True)
    ap.add_argument('--models', default='resnet20')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--steps', type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name in args.models.split(','):
        model, shape, ncls = build(name)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        x = torch.randn(args.batch, *shape)
        y = torch.randint(0, ncls, (args.batch,))

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(args.warmup):
            step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.steps):
                step()
        ms, total = {}, 0.0
        for e in prof.key_averages():
            t = e.self_cpu_time_total / 1e3 / args.steps
            total += t
            c = CLASSES.get(e.key, 'framework and the rest')
            if e.key.startswith('Optimizer.step'):
                c = 'sgd update'
            ms[c] = ms.get(c, 0.0) + t
        rows = sorted(ms.items(), key=lambda kv: -kv[1]) + [('total', total)]
        for op, v in rows:
            print(json.dumps({'model': name, 'kind': 'train', 'threads': args.threads, 'batch': args.batch,
                              'op': op, 'ms_per_step': v}), flush=True)


if __name__ == '__main__':
    main()
