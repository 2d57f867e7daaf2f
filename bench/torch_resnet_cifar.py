#!/usr/bin/python3
# The project's PyTorch anchor: this repository's copy of the CPU benchmark
# the project started from (shared/bench/torch_resnet_cifar.py beside the
# repository, with its README), kept here so that bench/compare.sh needs nothing
# outside the repository. Changes from that copy: this comment and the usage
# line's script name.
#
# What it measures: for the CIFAR-10 ResNets of He et al. 2016 (option-A
# shortcuts) and their plain twins, in PyTorch on the CPU, the median wall time
# of one full training step (zero_grad, forward, cross-entropy, backward, SGD
# momentum 0.9 and weight decay 1e-4) on random input of --batch images, after
# --warmup untimed steps, over --steps steps; and of a forward-only inference
# pass (eval mode) for the --infer models. One JSON line per measurement:
# ms_median/min/max, img_per_s, gflops, params, and foreign_cpu (other
# processes' CPU use during it), the schema cmd/bench prints too.
#
#   /usr/bin/python3 bench/torch_resnet_cifar.py --threads 2 --models resnet20,resnet56 --infer resnet20
#
# Needs torch (Debian: apt-get install python3-torch; bench/compare.sh installs it).
"""CPU training-step benchmark for the CIFAR-10 ResNets of He et al. 2016 (and their plain twins).

Model: 3x3 conv(16) -> BN -> ReLU -> 3 stages x n BasicBlocks (16/32/64 ch, stride 1/2/2)
       -> global avg pool -> FC(10).  depth = 6n+2.
BasicBlock: conv3x3-BN-ReLU-conv3x3-BN (+ shortcut) -> ReLU.
Shortcut: identity; on downsampling "option A" = x[:, :, ::2, ::2] zero-padded in channels.
Plain variant: identical layers, no shortcut addition.

Step timed = zero_grad + forward + cross-entropy + backward + SGD(momentum .9, wd 1e-4).step
Usage: torch_resnet_cifar.py --threads 2 --models resnet20,plain20 [--steps 10] [--warmup 3] [--batch 128]
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride, residual):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.residual = residual
        self.downsample = stride != 1 or in_planes != planes
        self.pad = (planes - in_planes) // 2

    def shortcut(self, x):
        if not self.downsample:
            return x
        # option A: subsample spatially, zero-pad channels (parameter-free)
        x = x[:, :, ::2, ::2]
        return F.pad(x, (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, n, residual=True, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(BasicBlock(in_planes, planes, stride if i == 0 else 1, residual))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build(name):
    if name.startswith('resnet') or name.startswith('plain'):
        residual = name.startswith('resnet')
        depth = int(name[6:] if residual else name[5:])
        assert (depth - 2) % 6 == 0, name
        return CifarResNet((depth - 2) // 6, residual), (3, 32, 32), 10
    if name.startswith('tv_'):
        import torchvision
        return getattr(torchvision.models, name[3:])(num_classes=1000), (3, 224, 224), 1000
    raise ValueError(name)


def count_macs(model, shape):
    """Multiply-accumulates of Conv2d and Linear layers for one image forward."""
    macs = []

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        macs.append(out.numel() // out.shape[0] * k)

    def fc_hook(m, inp, out):
        macs.append(m.in_features * m.out_features)

    hs = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hs.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hs.append(m.register_forward_hook(fc_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    model.train(was_training)
    for h in hs:
        h.remove()
    return sum(macs)


def bench_train(model, shape, ncls, batch, warmup, steps):
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, ncls, (batch,))
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        t1 = time.perf_counter()
        if i >= warmup:
            times.append(t1 - t0)
    return times, float(loss)


def bench_infer(model, shape, batch, warmup, steps):
    model.eval()
    x = torch.randn(batch, *shape)
    times = []
    with torch.inference_mode():
        for i in range(warmup + steps):
            t0 = time.perf_counter()
            model(x)
            t1 = time.perf_counter()
            if i >= warmup:
                times.append(t1 - t0)
    return times


def cpu_busy_s():
    """System-wide busy CPU seconds (all cores) from /proc/stat, and this process's CPU seconds."""
    with open('/proc/stat') as f:
        v = [int(t) for t in f.readline().split()[1:]]
    hz = os.sysconf('SC_CLK_TCK')
    busy = (sum(v) - v[3] - v[4]) / hz  # minus idle, iowait
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return busy, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, required=True)
    ap.add_argument('--models', default='resnet20,plain20,resnet56,plain56,resnet110')
    ap.add_argument('--infer', default='resnet20', help='models to time forward-only (eval mode)')
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--warmup', type=int, default=3)
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--no-mkldnn', action='store_true',
                    help='disable oneDNN: convs go through ATen slow_conv2d = im2col + BLAS sgemm')
    ap.add_argument('--tag', default='')
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    torch.manual_seed(0)
    print(f'# torch {torch.__version__} threads={torch.get_num_threads()} '
          f'mkldnn={torch.backends.mkldnn.enabled} batch={args.batch} '
          f'warmup={args.warmup} steps={args.steps} tag={args.tag}', flush=True)

    jobs = [(m, 'train') for m in args.models.split(',') if m] + \
           [(m, 'infer') for m in args.infer.split(',') if m]
    for name, kind in jobs:
        model, shape, ncls = build(name)
        macs = count_macs(model, shape)
        nparams = sum(p.numel() for p in model.parameters())
        b0, s0 = cpu_busy_s()
        w0 = time.perf_counter()
        if kind == 'train':
            times, loss = bench_train(model, shape, ncls, args.batch, args.warmup, args.steps)
            flop_per_img = 3 * 2 * macs  # fwd + bwd(~2x fwd), 2 FLOP per MAC
        else:
            times = bench_infer(model, shape, args.batch, args.warmup, args.steps)
            flop_per_img = 2 * macs
        b1, s1 = cpu_busy_s()
        wall = time.perf_counter() - w0
        # CPU seconds used by OTHER processes during this measurement, per wall second (0 = quiet machine)
        foreign = max(0.0, ((b1 - b0) - (s1 - s0)) / wall)
        med = statistics.median(times)
        rec = dict(model=name, kind=kind, threads=args.threads, batch=args.batch,
                   mkldnn=not args.no_mkldnn, tag=args.tag,
                   params=nparams, fwd_macs_per_img=macs,
                   ms_median=med * 1e3, ms_min=min(times) * 1e3, ms_max=max(times) * 1e3,
                   img_per_s=args.batch / med,
                   gflops=flop_per_img * args.batch / med / 1e9,
                   n=len(times), foreign_cpu=round(foreign, 3))
        print(json.dumps(rec), flush=True)
        del model


if __name__ == '__main__':
    main()
