#!/usr/bin/python3
"""The first SGD steps of the twin's CIFAR nets at the paper's learning rate.

Prints, for each of the first --steps iterations, the loss, the std of the
logits and the gradient norm, on batches drawn uniformly from the CIFAR-10
training set (no augmentation). It shows the ResNet-56 start that
results/README.md describes (the loss jumps from about 3.8 to about 8 within
five steps at lr 0.1, then the net sits near ln 10) and lets one vary what
might cause it:

    /usr/bin/python3 scripts/twin/early_steps.py --model resnet56
    /usr/bin/python3 scripts/twin/early_steps.py --model resnet56 --norm per-channel --fc he
    /usr/bin/python3 scripts/twin/early_steps.py --model resnet56 --zero-init-residual
"""
import argparse
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_twin as T  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--model', default='resnet56', help='one of ' + ', '.join(T.MODELS))
    ap.add_argument('--data', default='', help='cifar-10-binary.tar.gz or a directory of the .bin files '
                    '(default $CIFAR10_DATA, else cmd/train\'s cache path)')
    ap.add_argument('--norm', default='per-pixel-mean', choices=('per-pixel-mean', 'per-channel'))
    ap.add_argument('--fc', default='torch', choices=('torch', 'he'),
                    help="fc initialization: PyTorch's default (the zoo's) or He's normal, fan-in")
    ap.add_argument('--zero-init-residual', action='store_true')
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--steps', type=int, default=40)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    a.data = T.data_path(a.data, 'early_steps.py')
    if a.model not in T.MODELS:
        raise SystemExit('--model %r: want one of %s' % (a.model, ', '.join(T.MODELS)))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    (pixels, labels), _ = T.load_cifar10(a.data)
    normalize = T.Normalizer(T.compute_stats(pixels, a.norm))
    model = T.build(a.model, a.zero_init_residual)
    if a.fc == 'he':
        nn.init.kaiming_normal_(model.fc.weight)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    g = torch.Generator().manual_seed(a.seed)
    print('iter  loss   logit-std  grad-norm')
    for it in range(a.steps):
        idx = torch.randint(0, pixels.shape[0], (128,), generator=g)
        logits = model(normalize(pixels[idx]))
        loss = F.cross_entropy(logits, labels[idx])
        opt.zero_grad()
        loss.backward()
        norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in model.parameters()))
        opt.step()
        print('%4d  %5.2f  %9.2f  %9.2f' % (it, loss.item(), logits.std().item(), norm))


if __name__ == '__main__':
    main()
