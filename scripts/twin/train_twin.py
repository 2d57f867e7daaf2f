#!/usr/bin/python3
"""PyTorch twin of the Go trainer (cmd/train, package train).

Trains the CIFAR-10 ResNets and plain nets of He et al. 2016 with the same data,
preprocessing, augmentation, initialization, recipe, schedule and logging as
github.com/gorgonia-zoo/resnet/train, and writes the same run-directory files
(config.json, stats.json, metrics.jsonl, result.json; for a sweep sweep.json,
summary.json and summary.md), so Go and PyTorch curves can be drawn together.

    /usr/bin/python3 scripts/twin/train_twin.py --model resnet20 --iters 2000 --out runs/twin-r20
    /usr/bin/python3 scripts/twin/train_twin.py --sweep fig6-quick --out runs/twin-fig6q

See scripts/twin/README.md for what matches the Go trainer exactly and what cannot.
Only the standard library and torch are needed (torchvision and numpy are optional).
"""
import argparse
import datetime
import json
import math
import os
import platform
import shutil
import signal
import sys
import tarfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA_ENV = 'CIFAR10_DATA'  # cifar10.EnvVar: the variable the Go trainer reads the data's path from


def go_cache_path():
    """cifar10.DefaultPath: where cmd/train keeps (and downloads) the archive when given no path
    and no $CIFAR10_DATA, resnet-zoo/cifar10/cifar-10-binary.tar.gz under Go's os.UserCacheDir.
    None where Go would find no cache directory."""
    env = os.environ.get
    if sys.platform.startswith('win'):
        base = env('LocalAppData')
    elif sys.platform == 'darwin':
        base = env('HOME') and os.path.join(env('HOME'), 'Library', 'Caches')
    else:
        base = env('XDG_CACHE_HOME') or (env('HOME') and os.path.join(env('HOME'), '.cache'))
        if base and not os.path.isabs(base):
            base = None
    return base and os.path.join(base, 'resnet-zoo', 'cifar10', 'cifar-10-binary.tar.gz')


def data_path(given, prog='train_twin.py'):
    """Where CIFAR-10 is, found as the Go trainer finds it (cifar10.Locate): given (--data) if not
    empty, else $CIFAR10_DATA, else cmd/train's cache path. The twin does not download: a path
    that does not exist ends the program with a message naming CIFAR10_DATA."""
    path = given or os.environ.get(DATA_ENV) or go_cache_path()
    if path and os.path.exists(path):
        return path
    cache = go_cache_path() or "Go's cache directory"
    raise SystemExit('%s: no CIFAR-10 data at %s: set %s (or --data) to cifar-10-binary.tar.gz or the extracted '
                     'cifar-10-batches-bin directory; without either the twin looks where go run ./cmd/train '
                     'downloads the archive (%s)' % (prog, path or '(no path)', DATA_ENV, cache))

# Geometry of the binary archive (datasets/cifar10).
W = H = 32
C = 3
PLANE = W * H
IMAGE = C * PLANE
RECORD = 1 + IMAGE
PAD = 4
TRAIN_FILES = ['data_batch_%d.bin' % i for i in range(1, 6)]
TEST_FILE = 'test_batch.bin'
PAPER_VAL_IMAGES = 5000  # cifar10.PaperValidationImages
VAL_SPLIT_SEED = 1       # train.ValSplitSeed
QUICK_ITERS = 1500       # train.QuickIters
CHECKPOINT = 'checkpoint.pt'  # the twin's own: torch.save of the model, optimizer and loop state

MODELS = ['resnet%d' % d for d in (20, 32, 44, 56, 110, 1202)] + ['plain%d' % d for d in (20, 32, 44, 56, 110)]


# ---------------------------------------------------------------- configuration (train/config.go)

def paper(model):
    """train.Paper: He et al. 2016 section 4.2. Keys and order are train.Config's JSON."""
    return dict(
        model=model, seed=1, zero_init_residual=False,
        iters=64000, batch_size=128, lr=0.1, momentum=0.9, weight_decay=1e-4,
        schedule='step', milestones=[32000, 48000], gamma=0.1,
        warmup='auto', warmup_lr=0.01, warmup_err=0.8,
        normalization='per-pixel-mean', val=False, train_limit=0, eval_limit=0,
        eval_batch=200, eval_every=1000, log_every=50, ckpt_every=1000, workers=1,
        analyze=False, data='')


def scaled_milestones(iters):
    """train.ScaledMilestones: 50% and 75% of iters."""
    a, b = iters // 2, iters * 3 // 4
    if a <= 0:
        return []
    if b <= a:
        return [a]
    return [a, b]


FIG6_MODELS = ('plain20', 'plain32', 'plain44', 'plain56',
               'resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110')


def preset(name):
    """experiment.Preset."""
    def quick(m):
        c = paper(m)
        c['iters'], c['milestones'] = QUICK_ITERS, scaled_milestones(QUICK_ITERS)
        c['eval_every'], c['log_every'], c['ckpt_every'] = 300, 25, 300
        return c
    if name == 'fig6':
        return [paper(m) for m in FIG6_MODELS]
    if name == 'fig6-quick':
        return [quick(m) for m in ('plain20', 'plain56', 'resnet20', 'resnet56')]
    if name == 'fig6-grid-quick':
        return [quick(m) for m in FIG6_MODELS]
    raise SystemExit('--sweep %r: want one of fig6, fig6-quick, fig6-grid-quick' % name)


def keep(runs, models, sweep):
    """train.Sweep.Keep: the runs of the named models, in the preset's order."""
    have = [c['model'] for c in runs]
    missing = sorted(set(models) - set(have))
    if missing:
        raise SystemExit('-models %s: %r is not in the %s sweep (%s)' % (
            ','.join(models), missing[0], sweep, ', '.join(have)))
    return [c for c in runs if c['model'] in models]


def validate(c):
    """train.Config.Validate (the checks that apply here)."""
    def bad(msg):
        raise SystemExit(msg)
    if c['model'] not in MODELS:
        bad('-model %r: want one of %s' % (c['model'], ', '.join(MODELS)))
    if c['iters'] <= 0:
        bad('-iters %d: want a positive number of iterations' % c['iters'])
    if c['batch_size'] <= 0:
        bad('-batch %d: want a positive batch size' % c['batch_size'])
    if not (c['lr'] > 0) or math.isinf(c['lr']):
        bad('-lr %r: want a positive finite learning rate' % c['lr'])
    if not (0 <= c['momentum'] < 1):
        bad('-momentum %r: want 0 <= momentum < 1' % c['momentum'])
    if not (c['weight_decay'] >= 0) or math.isinf(c['weight_decay']):
        bad('-wd %r: want a finite weight decay >= 0' % c['weight_decay'])
    if c['schedule'] not in ('step', 'cosine'):
        bad('-schedule %r: want step or cosine' % c['schedule'])
    if not (0 < c['gamma'] <= 1):
        bad('-gamma %r: want 0 < gamma <= 1' % c['gamma'])
    if c['warmup'] not in ('auto', 'on', 'off'):
        bad('-warmup %r: want auto, on or off' % c['warmup'])
    if not (c['warmup_lr'] > 0):
        bad('-warmup-lr %r: want a positive learning rate' % c['warmup_lr'])
    if not (0 < c['warmup_err'] <= 1):
        bad('-warmup-err %r: want 0 < error <= 1' % c['warmup_err'])
    if c['normalization'] not in ('per-pixel-mean', 'per-channel'):
        bad('-norm %r: want per-pixel-mean or per-channel' % c['normalization'])
    if c['train_limit'] < 0 or c['eval_limit'] < 0:
        bad('-train-limit and -eval-limit: want >= 0 (0 means all images)')
    if c['eval_batch'] <= 0:
        bad('-eval-batch %d: want a positive batch size' % c['eval_batch'])
    if c['eval_every'] < 0:
        bad('-eval-every %d: want >= 0 (0 means only at the end)' % c['eval_every'])
    if c['log_every'] <= 0:
        bad('-log-every %d: want a positive number of iterations' % c['log_every'])
    ms = c['milestones']
    for i, m in enumerate(ms):
        if m <= 0 or (i > 0 and m <= ms[i - 1]):
            bad('-milestones %r: want increasing positive iterations' % ms)


def warmup_enabled(c):
    if c['warmup'] == 'on':
        return True
    return c['warmup'] == 'auto' and c['model'] in ('resnet110', 'plain110')


def lr_at(c, it):
    """train.Config.LRAt: the scheduled LR of iteration it (0-based), warm-up aside."""
    if c['schedule'] == 'cosine':
        return c['lr'] * 0.5 * (1 + math.cos(math.pi * it / c['iters']))
    lr = c['lr']
    for m in c['milestones']:
        if it >= m:
            lr *= c['gamma']
    return float('%.12g' % lr)  # as Go: 0.1*0.1 is written 0.01


def parse_milestones(s):
    s = s.strip()
    if not s:
        return []
    try:
        return [int(f.strip()) for f in s.split(',')]
    except ValueError:
        raise SystemExit('-milestones %r: want comma-separated iterations, e.g. 32000,48000' % s)


# ---------------------------------------------------------------- data (datasets/cifar10)

def load_cifar10(path):
    """Reads the binary version: a cifar-10-binary.tar.gz or a directory holding the
    .bin files (directly or under cifar-10-batches-bin/). Returns (train, test), each
    (pixels uint8 (N,3,32,32), labels int64 (N,)), in file order."""
    blobs = {}
    if os.path.isdir(path):
        for d in (os.path.join(path, 'cifar-10-batches-bin'), path):
            if os.path.exists(os.path.join(d, TEST_FILE)):
                for f in TRAIN_FILES + [TEST_FILE]:
                    with open(os.path.join(d, f), 'rb') as fh:
                        blobs[f] = fh.read()
                break
    else:
        with tarfile.open(path, mode='r:*') as tf:
            for m in tf:
                base = os.path.basename(m.name)
                if m.isreg() and base in TRAIN_FILES + [TEST_FILE]:
                    blobs[base] = tf.extractfile(m).read()
    missing = [f for f in TRAIN_FILES + [TEST_FILE] if f not in blobs]
    if missing:
        raise SystemExit('%s: missing %s' % (path, ', '.join(missing)))

    def parse(names):
        b = b''.join(blobs[n] for n in names)
        if len(b) % RECORD:
            raise SystemExit('%s: %d bytes is not a whole number of %d-byte records' % (names, len(b), RECORD))
        rec = torch.frombuffer(bytearray(b), dtype=torch.uint8).view(-1, RECORD)
        labels = rec[:, 0].long()
        if int(labels.max()) >= 10:
            raise SystemExit('%s: label > 9' % names)
        return rec[:, 1:].contiguous().view(-1, C, H, W), labels
    return parse(TRAIN_FILES), parse([TEST_FILE])


def head(s, n):
    """cifar10.Set.Head."""
    if n <= 0 or n >= len(s[1]):
        return s
    return s[0][:n], s[1][:n]


# SplitMix64, exactly as datasets/cifar10 (cifar10.go), for Set.Split and for --data-rng go.
M64 = (1 << 64) - 1
GOLDEN = 0x9e3779b97f4a7c15
SPLIT_DOMAIN, SHUFFLE_DOMAIN, AUGMENT_DOMAIN = 0x5b17000000000001, 0x5b17000000000002, 0x5b17000000000003


def mix(z):
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return z ^ (z >> 31)


def go_shuffle(n, state):
    """cifar10.shuffle: Fisher-Yates with SplitMix64 and Lemire's bounded draw."""
    perm = list(range(n))
    s = state
    for i in range(n - 1, 0, -1):
        bound = i + 1
        while True:
            s = (s + GOLDEN) & M64
            p = mix((s - GOLDEN) & M64) * bound
            lo = p & M64
            if lo >= bound or lo >= ((1 << 64) - bound) % bound:
                break
        j = p >> 64
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def go_split(s, validation, seed):
    """cifar10.Set.Split: the same 45k/5k split as the Go trainer's -val."""
    n = len(s[1])
    held = torch.zeros(n, dtype=torch.bool)
    held[torch.tensor(go_shuffle(n, mix(seed ^ SPLIT_DOMAIN))[:validation])] = True
    return (s[0][~held], s[1][~held]), (s[0][held], s[1][held])


def compute_stats(pixels, norm):
    """cifar10.ComputeStats on the [0,1] scale, summed exactly in integers."""
    n = pixels.shape[0]
    if norm == 'per-pixel-mean':
        sums = pixels.view(n, IMAGE).sum(0, dtype=torch.int64).double()
        return dict(normalization=norm, mean=(sums / (n * 255.0)).float())
    p = pixels.view(n, C, PLANE).long()
    s1 = p.sum((0, 2)).double()
    s2 = (p * p).sum((0, 2)).double()
    count = n * PLANE
    mean = s1 / (count * 255.0)
    var = (s2 / (count * 255.0 * 255.0) - mean * mean).clamp(min=0)
    return dict(normalization=norm, mean=mean.float(), std=var.sqrt().float())


class Normalizer:
    """cifar10's normalizer: out = float32(raw)*scale[channel] + offset[pixel], float32."""

    def __init__(self, st):
        if st['normalization'] == 'per-pixel-mean':
            self.scale = torch.full((C,), 1.0 / 255, dtype=torch.float32)
            self.offset = -st['mean'].view(C, H, W)
        else:
            m, s = st['mean'], st['std']
            self.scale = (1.0 / (255.0 * s.double())).float()
            self.offset = (-m / s).view(C, 1, 1).expand(C, H, W).contiguous()
        self.scale = self.scale.view(1, C, 1, 1)

    def __call__(self, u8):
        return u8.float() * self.scale + self.offset


def crop_flip(u8, dx, dy, flip):
    """Pads raw images with 0 by PAD, crops 32x32 at (dx, dy) in padded coordinates,
    then mirrors left-right where flip: torchvision's RandomCrop(32, 4) then
    RandomHorizontalFlip, on the uint8 images before normalization."""
    b = u8.shape[0]
    padded = F.pad(u8, (PAD, PAD, PAD, PAD))  # constant 0
    ar = torch.arange(W)
    rows = dy.view(b, 1) + ar.view(1, W)
    cols = dx.view(b, 1) + ar.view(1, W)
    cols = torch.where(flip.view(b, 1), cols.flip(1), cols)
    out = padded[torch.arange(b).view(b, 1, 1), :, rows.view(b, H, 1), cols.view(b, 1, W)]  # (B,H,W,C)
    return out.permute(0, 3, 1, 2).contiguous()


class TrainStream:
    """Endless augmented training batches: a new shuffle every epoch, the last partial
    batch dropped, random crop and flip per image. Batch i is batch i % perEpoch of
    epoch i // perEpoch.

    rng 'torch': a torch.Generator seeded with the run's seed (the default; the
    stream differs from Go's). rng 'go': the Go iterator's SplitMix64 streams
    (cifar10.NewTrainIterator), so every batch holds the same images with the same
    crops and flips as the Go trainer's with the same seed."""

    def __init__(self, train, norm, batch, seed, rng):
        self.pixels, self.labels = train
        self.norm, self.batch, self.rng = norm, batch, rng
        self.n = len(self.labels)
        self.per_epoch = self.n // batch
        self.epoch, self.perm = -1, None
        if rng == 'torch':
            self.gen = torch.Generator().manual_seed(seed)
        else:
            seed &= M64
            self.shuffle_state = mix(seed ^ SHUFFLE_DOMAIN)
            self.aug_state = mix(seed ^ AUGMENT_DOMAIN)

    def state(self):
        """What batch_at has drawn so far, for a checkpoint: nothing with rng 'go', whose
        batches are functions of their index."""
        if self.rng == 'go':
            return None
        return dict(gen=self.gen.get_state(), epoch=self.epoch, perm=self.perm)

    def load_state(self, st):
        if self.rng != 'go':
            self.gen.set_state(st['gen'])
            self.epoch, self.perm = st['epoch'], st['perm']

    def batch_at(self, i):
        e, k = divmod(i, self.per_epoch)
        if e != self.epoch:
            if self.rng == 'torch':
                self.perm = torch.randperm(self.n, generator=self.gen)
            else:
                self.perm = torch.tensor(go_shuffle(self.n, mix(self.shuffle_state ^ e)))
            self.epoch = e
        first = k * self.batch
        idx = self.perm[first:first + self.batch]
        b = len(idx)
        if self.rng == 'torch':
            dx = torch.randint(0, 2 * PAD + 1, (b,), generator=self.gen)
            dy = torch.randint(0, 2 * PAD + 1, (b,), generator=self.gen)
            flip = torch.rand(b, generator=self.gen) < 0.5
        else:  # cifar10.cropAndFlip
            es = mix(self.aug_state ^ e)
            hs = [mix(es ^ (first + j)) for j in range(b)]
            dx = torch.tensor([((h & 0xffffffff) * (2 * PAD + 1)) >> 32 for h in hs])
            dy = torch.tensor([(((h >> 32) & 0x7fffffff) * (2 * PAD + 1)) >> 31 for h in hs])
            flip = torch.tensor([h >> 63 == 1 for h in hs])
        return self.norm(crop_flip(self.pixels[idx], dx, dy, flip)), self.labels[idx]


# ---------------------------------------------------------------- models (models, blocks, layers)

class BasicBlock(nn.Module):
    """blocks.BasicBlock: conv3x3-BN-ReLU-conv3x3-BN, + option-A shortcut, ReLU.
    Plain: the same layers without the shortcut."""

    def __init__(self, inplanes, planes, stride, plain):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.plain = plain
        self.stride, self.inplanes, self.planes = stride, inplanes, planes

    def shortcut(self, x):
        """layers.ShortcutA: x[:, :, ::s, ::s], zero-padded evenly in channels."""
        if self.stride == 1 and self.inplanes == self.planes:
            return x
        x = x[:, :, ::self.stride, ::self.stride]
        p = (self.planes - self.inplanes) // 2
        return F.pad(x, (0, 0, 0, 0, p, p))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if not self.plain:
            out = out + self.shortcut(x)
        return F.relu(out)


class CifarNet(nn.Module):
    """models' buildCIFAR: conv3x3(16)-BN-ReLU, stages of n blocks at 16/32/64
    (strides 1, 2, 2), global average pooling, fc. Parameter names are torchvision's
    (conv1, bn1, layer1.0.conv1, ..., fc), as in the Go zoo's safetensors."""

    def __init__(self, n, plain, zero_init_residual=False, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        inplanes = 16
        for i, planes in enumerate((16, 32, 64)):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(inplanes, planes, (1 if i == 0 else 2) if j == 0 else 1, plain))
                inplanes = planes
            setattr(self, 'layer%d' % (i + 1), nn.Sequential(*blocks))
        self.fc = nn.Linear(64, num_classes)  # PyTorch's default init, as layers.Linear
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual and not plain:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def build(name, zero_init_residual):
    plain = name.startswith('plain')
    depth = int(name[5:] if plain else name[6:])
    return CifarNet((depth - 2) // 6, plain, zero_init_residual)


# ---------------------------------------------------------------- the trainer (train/trainer.go)

def dumps_point(p):
    return json.dumps(p, separators=(',', ':'))


def replace_atomically(path, write):
    """Writes path through write(tmp) and a rename, so that a reader never sees half a file."""
    tmp = path + '.tmp'
    write(tmp)
    os.replace(tmp, path)


def write_text(path, text):
    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)
    replace_atomically(path, write)


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2) + '\n')


def f32list(t):
    """Float32 values written with their shortest float32 form, as Go's encoding/json."""
    try:
        import numpy as np
        return [float(repr(np.float32(v))) for v in t.tolist()]
    except ImportError:
        return t.tolist()


def refuse_nonempty(d, what):
    if os.path.isdir(d) and os.listdir(d):
        raise SystemExit('%s directory %s already exists and is not empty; choose another --out' % (what, d))


def evaluate(model, ev, norm, eval_batch):
    """Trainer.Evaluate: mean cross-entropy (summed in float64) and error rate, BN in
    evaluation mode, over the whole evaluation set in order."""
    pixels, labels = ev
    model.eval()
    total, wrong = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(labels), eval_batch):
            logits = model(norm(pixels[i:i + eval_batch]))
            y = labels[i:i + eval_batch]
            total += float(F.cross_entropy(logits.double(), y, reduction='sum'))
            wrong += int((logits.argmax(1) != y).sum())
    model.train()
    n = len(labels)
    return total / n, wrong / n


class Interrupt:
    """Notes SIGINT and SIGTERM, so that the loop stops between steps with a checkpoint
    (a preempted job gets SIGTERM) instead of dying mid-step."""

    def __init__(self):
        self.signal = None
        self.previous = {sig: signal.signal(sig, self.note) for sig in (signal.SIGINT, signal.SIGTERM)}

    def note(self, sig, frame):
        self.signal = sig

    def close(self):
        """Puts the previous handlers back: outside the loop a signal stops the program."""
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def read_points(path, last):
    """The points of metrics.jsonl up to iteration last: those logged after a checkpoint
    are logged again when the run resumes from it."""
    with open(path) as f:
        return [p for p in (json.loads(l) for l in f if l.strip()) if p['iter'] <= last]


def write_run_files(cfg, out_dir, data_rng, train_set, eval_set, eval_name, stats):
    """config.json and stats.json of a new run."""
    os.makedirs(out_dir, exist_ok=True)
    info = dict(
        config=cfg,
        created=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        trainer='pytorch-twin (scripts/twin/train_twin.py)',
        torch_version=torch.__version__, torchvision_version=_torchvision_version(),
        python_version=platform.python_version(), threads=torch.get_num_threads(),
        mkldnn=torch.backends.mkldnn.is_available(), data_rng=data_rng,
        goos=sys.platform, goarch=platform.machine(), cpus=os.cpu_count(),
        train_images=len(train_set[1]), eval_images=len(eval_set[1]), eval_set=eval_name)
    write_json(os.path.join(out_dir, 'config.json'), info)
    st = dict(normalization=stats['normalization'], mean=f32list(stats['mean']))
    if 'std' in stats:
        st['std'] = f32list(stats['std'])
    with open(os.path.join(out_dir, 'stats.json'), 'w') as f:
        f.write(json.dumps(st, separators=(',', ':')) + '\n')


def run(cfg, ds, out_dir, data_rng, log, save_init=None, resume=False):
    """Trains one model into out_dir; save_init, when given, is a file to write the
    freshly initialized weights to (Go's cmd/train -init-from reads it). With resume it
    continues the run in out_dir from its checkpoint, as if it had never stopped (on the
    same machine, with the same threads)."""
    validate(cfg)
    if not resume:
        refuse_nonempty(out_dir, 'run')
    train_set, eval_set, eval_name = ds
    if cfg['val']:
        train_set, eval_set = go_split(train_set, PAPER_VAL_IMAGES, VAL_SPLIT_SEED)
        eval_name = 'val'
    train_set, eval_set = head(train_set, cfg['train_limit']), head(eval_set, cfg['eval_limit'])
    if len(train_set[1]) < cfg['batch_size']:
        raise SystemExit('-batch %d: the training set has only %d images' % (cfg['batch_size'], len(train_set[1])))
    stats = compute_stats(train_set[0], cfg['normalization'])
    norm = Normalizer(stats)

    torch.manual_seed(cfg['seed'])
    model = build(cfg['model'], cfg['zero_init_residual'])
    model.train()
    if save_init:
        write_safetensors(save_init, model.state_dict(), weights_metadata(cfg, stats))
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.SGD(model.parameters(), lr=cfg['lr'], momentum=cfg['momentum'],
                          weight_decay=cfg['weight_decay'])  # every parameter, BN and bias included
    stream = TrainStream(train_set, norm, cfg['batch_size'], cfg['seed'], data_rng)
    per_epoch = stream.per_epoch
    eval_batch = min(cfg['eval_batch'], len(eval_set[1]))

    ckpt_path = os.path.join(out_dir, CHECKPOINT)
    metrics_path = os.path.join(out_dir, 'metrics.jsonl')
    warm, warm_ema, warm_seen = warmup_enabled(cfg), 0.0, False
    win_loss, win_err, win_n = 0.0, 0.0, 0
    points = []
    it, elapsed = 0, 0.0
    if resume:
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['optimizer'])
        stream.load_state(ck['stream'])
        it, elapsed = ck['iter'], ck['elapsed_s']
        warm, warm_ema, warm_seen = ck['warm'], ck['warm_ema'], ck['warm_seen']
        win_loss, win_err, win_n = ck['window']
        points = read_points(metrics_path, it)
        write_text(metrics_path, ''.join(dumps_point(p) + '\n' for p in points))
        log('%s: resumed at iteration %d of %d from %s' % (cfg['model'], it, cfg['iters'], ckpt_path))
    else:
        write_run_files(cfg, out_dir, data_rng, train_set, eval_set, eval_name, stats)
    metrics = open(metrics_path, 'a')
    interrupt = Interrupt()
    start = time.perf_counter() - elapsed
    win_start, win_start_i = time.perf_counter(), it

    def checkpoint():
        state = dict(
            model=model.state_dict(), optimizer=opt.state_dict(), stream=stream.state(), iter=it,
            elapsed_s=time.perf_counter() - start, warm=warm, warm_ema=warm_ema, warm_seen=warm_seen,
            window=(win_loss, win_err, win_n))
        replace_atomically(ckpt_path, lambda tmp: torch.save(state, tmp))

    while it < cfg['iters']:
        x, y = stream.batch_at(it)
        lr = cfg['warmup_lr'] if warm else lr_at(cfg, it)
        done = it + 1
        log_now = done % cfg['log_every'] == 0 or done == cfg['iters']
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        loss_v = float(loss)
        err = int((logits.detach().argmax(1) != y).sum()) / len(y)
        if not math.isfinite(loss_v):
            raise SystemExit('%s: training loss is %r at iteration %d (learning rate %g): the run diverged and was stopped'
                             % (cfg['model'], loss_v, done, lr))
        for g in opt.param_groups:
            g['lr'] = lr
        opt.step()
        it = done
        win_loss += loss_v
        win_err += err
        win_n += 1
        if warm:
            if not warm_seen:
                warm_ema, warm_seen = err, True
            else:
                warm_ema = 0.9 * warm_ema + 0.1 * err
            if warm_ema < cfg['warmup_err']:
                warm = False
                log('%s: warm-up done at iteration %d (training error %.1f%% < %.0f%%); learning rate %g'
                    % (cfg['model'], it, 100 * warm_ema, 100 * cfg['warmup_err'], lr_at(cfg, it)))
        eval_now = (cfg['eval_every'] > 0 and done % cfg['eval_every'] == 0) or done == cfg['iters']
        if log_now or eval_now:
            # Point: every key always present; test_* null between evaluations (Go's nil pointers).
            pt = dict(iter=done, epoch=done / per_epoch, lr=lr, train_loss=None, train_err=None,
                      test_loss=None, test_err=None, img_per_s=0.0, elapsed_s=0.0)
            if win_n > 0:
                pt['train_loss'], pt['train_err'] = win_loss / win_n, win_err / win_n
            s = time.perf_counter() - win_start
            if s > 0:
                pt['img_per_s'] = (done - win_start_i) * cfg['batch_size'] / s
            if eval_now:
                pt['test_loss'], pt['test_err'] = evaluate(model, eval_set, norm, eval_batch)
            pt['elapsed_s'] = time.perf_counter() - start
            win_loss, win_err, win_n = 0.0, 0.0, 0
            metrics.write(dumps_point(pt) + '\n')
            metrics.flush()
            points.append(pt)
            line = '%s iter %d/%d epoch %.2f lr %g train loss %.4f err %.2f%%' % (
                cfg['model'], done, cfg['iters'], pt['epoch'], lr, pt['train_loss'], 100 * pt['train_err'])
            if eval_now:
                line += ' %s loss %.4f err %.2f%%' % (eval_name, pt['test_loss'], 100 * pt['test_err'])
            log(line + ' %.0f img/s elapsed %.1fs' % (pt['img_per_s'], pt['elapsed_s']))
            win_start, win_start_i = time.perf_counter(), done
            if eval_now and done < cfg['iters']:
                checkpoint()
        if interrupt.signal is not None and it < cfg['iters']:
            checkpoint()
            metrics.close()
            interrupt.close()
            raise SystemExit('%s: stopped by signal %d at iteration %d of %d; checkpoint in %s, continue with '
                             '--resume %s' % (cfg['model'], interrupt.signal, it, cfg['iters'], ckpt_path, out_dir))
    metrics.close()
    interrupt.close()

    # Trainer.finish
    r = dict(model=cfg['model'], params=params, iters=it, final_train_err=0.0, best_train_err=math.inf,
             final_test_err=0.0, best_test_err=math.inf, final_test_loss=0.0,
             wall_s=time.perf_counter() - start, eval_set=eval_name)
    for p in points:
        if p['train_err'] is not None:
            r['final_train_err'] = p['train_err']
            r['best_train_err'] = min(r['best_train_err'], p['train_err'])
        if p['test_err'] is not None:
            r['final_test_err'], r['final_test_loss'] = p['test_err'], p['test_loss']
            r['best_test_err'] = min(r['best_test_err'], p['test_err'])
    if math.isinf(r['best_train_err']):
        r['best_train_err'] = r['final_train_err']
    if math.isinf(r['best_test_err']):
        r['best_test_err'] = r['final_test_err']
    write_safetensors(os.path.join(out_dir, 'weights.safetensors'), model.state_dict(), weights_metadata(cfg, stats))
    write_json(os.path.join(out_dir, 'result.json'), r)
    return r


def weights_metadata(cfg, stats):
    """Trainer.weightsMetadata: the normalization as per-channel mean and std (a per-pixel
    mean image is recorded as its channel averages with std 1, and whole, CHW, under
    normalize_pixel_mean), plus the keys of weights.Save, so the Go command's
    -eval/-predict -weights can read the file."""
    m = stats['mean'].double()
    mean = m.view(C, -1).mean(1).tolist() if m.numel() == IMAGE else m.tolist()
    std = stats['std'].double().tolist() if 'std' in stats else [1.0, 1.0, 1.0]
    fmt = lambda v: ','.join('%d' % x if x == int(x) else repr(x) for x in v)  # noqa: E731
    md = {'dtype': 'float32', 'format': 'pt', 'model': cfg['model'], 'normalization': cfg['normalization'],
          'normalize_mean': fmt(mean), 'normalize_std': fmt(std), 'num_classes': '10', 'shortcut': 'A'}
    if m.numel() == IMAGE:
        # '%.9g' reads back as the same float32.
        md['normalize_pixel_mean'] = ','.join('%.9g' % x for x in stats['mean'].flatten().tolist())
    return md


def write_safetensors(path, state, metadata):
    """A minimal safetensors writer (torchvision names, as the Go zoo's weights files)."""
    dtypes = {torch.float32: 'F32', torch.int64: 'I64'}
    header, blobs, off = {'__metadata__': metadata}, [], 0
    for k in sorted(state):
        t = state[k].detach().contiguous().cpu()
        b = t.numpy().tobytes() if t.dim() else t.reshape(1).numpy().tobytes()
        header[k] = {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(len(h).to_bytes(8, 'little') + h)
        for b in blobs:
            f.write(b)


def _torchvision_version():
    try:
        import torchvision
        return torchvision.__version__
    except Exception:  # torchvision is not needed
        return ''


def summarize(d, preset_name, results):
    """train.Summarize: summary.json ([]Result) and summary.md (no figures)."""
    write_json(os.path.join(d, 'summary.json'), results)
    ev = 'validation' if results and results[0]['eval_set'] == 'val' else 'test'
    md = ['# Sweep %s (PyTorch twin)\n' % preset_name,
          'Errors in %%; training error is the running mean over the last logged window '
          '(augmented data, BN in training mode); %s error with BN in evaluation mode.\n' % ev,
          '| model | params | iterations | final train err | best train err | final test err | best test err | wall time |',
          '|---|---:|---:|---:|---:|---:|---:|---:|']

    def key(r):
        plain = r['model'].startswith('plain')
        return (not plain, int(r['model'].lstrip('plainresnet')))
    for r in sorted(results, key=key):
        md.append('| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.0fs |' % (
            r['model'], r['params'], r['iters'], 100 * r['final_train_err'], 100 * r['best_train_err'],
            100 * r['final_test_err'], 100 * r['best_test_err'], r['wall_s']))
    with open(os.path.join(d, 'summary.md'), 'w') as f:
        f.write('\n'.join(md) + '\n')


# ---------------------------------------------------------------- command line (cmd/train)

# flag -> (Config key, type); every flag also accepts Go's single-dash spelling.
FLAGS = [
    ('seed', 'seed', int), ('iters', 'iters', int), ('batch', 'batch_size', int), ('lr', 'lr', float),
    ('momentum', 'momentum', float), ('wd', 'weight_decay', float), ('gamma', 'gamma', float),
    ('schedule', 'schedule', str), ('warmup', 'warmup', str), ('warmup-lr', 'warmup_lr', float),
    ('warmup-err', 'warmup_err', float), ('norm', 'normalization', str), ('train-limit', 'train_limit', int),
    ('eval-limit', 'eval_limit', int), ('eval-every', 'eval_every', int), ('eval-batch', 'eval_batch', int),
    ('log-every', 'log_every', int),
]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', '-model', help='model name: ' + ', '.join(MODELS) + ' (default resnet20)')
    ap.add_argument('--sweep', '-sweep', help='run a sweep preset: fig6-quick, fig6-grid-quick or fig6, into OUT/<model>')
    ap.add_argument('--models', '-models',
                    help='with --sweep: run only these of the preset\'s models (comma-separated), in its order')
    ap.add_argument('--out', '-out', help='run (or sweep) directory to create; an existing non-empty one is refused '
                    '(default runs/twin-<model or sweep>-<time>)')
    ap.add_argument('--data', '-data', default='',
                    help='cifar-10-binary.tar.gz or a directory of the .bin files (default $CIFAR10_DATA, else '
                    'where cmd/train keeps its download: resnet-zoo/cifar10/ in the user cache directory)')
    ap.add_argument('--milestones', '-milestones',
                    help='comma-separated iterations where the LR is multiplied by --gamma '
                    '(default 32000,48000; 50%% and 75%% of --iters when --iters is given)')
    for flag, key, typ in FLAGS:
        ap.add_argument('--' + flag, '-' + flag, type=typ, dest=key, help='default: the Go trainer\'s')
    ap.add_argument('--val', '-val', action='store_true', default=None,
                    help='train on 45k images, evaluate on the held-out 5k (the Go trainer\'s split)')
    ap.add_argument('--zero-init-residual', '-zero-init-residual', action='store_true', default=None,
                    help='start every residual block as the identity (last BN gamma 0)')
    ap.add_argument('--save-init', '-save-init', metavar='FILE',
                    help='write the initialized weights, before any step, to FILE (safetensors) so that '
                    'cmd/train -init-from FILE starts from the same weights (one run, not a sweep)')
    ap.add_argument('--resume', '-resume', metavar='DIR',
                    help='continue the run in DIR from its checkpoint (written at every evaluation and '
                    'on SIGINT or SIGTERM), with the config, data stream and threads it recorded')
    ap.add_argument('--threads', '-threads', type=int, default=2, help='torch.set_num_threads (default 2)')
    ap.add_argument('--data-rng', '-data-rng', choices=('torch', 'go'), default='torch',
                    help='shuffle/crop/flip stream: torch (a torch.Generator seeded with --seed, default) or go '
                    '(the Go iterator\'s SplitMix64 streams: the same batches as the Go trainer)')
    a = ap.parse_args(argv)
    if a.resume:
        return resume_run(a)
    a.data = data_path(a.data)

    torch.set_num_threads(a.threads)
    set_keys = {key: getattr(a, key) for _, key, _ in FLAGS if getattr(a, key) is not None}
    if a.val:
        set_keys['val'] = True
    if a.zero_init_residual:
        set_keys['zero_init_residual'] = True

    def apply(c):
        c.update(set_keys)
        if a.milestones is not None:
            c['milestones'] = parse_milestones(a.milestones)
        elif 'iters' in set_keys:
            c['milestones'] = scaled_milestones(c['iters'])
        c['data'] = os.path.abspath(a.data)
        validate(c)
        return c

    stamp = time.strftime('%Y%m%d-%H%M%S')
    log = lambda s: print(s, flush=True)  # noqa: E731
    if a.sweep:
        if a.save_init:
            raise SystemExit('--save-init and --sweep: one run only')
        if a.model:
            raise SystemExit('--model and --sweep: a sweep chooses its models')
        runs = preset(a.sweep)
        if a.models is not None:
            runs = keep(runs, a.models.split(','), a.sweep)
        runs = [apply(c) for c in runs]
        d = a.out or os.path.join('runs', 'twin-%s-%s' % (a.sweep, stamp))
        sweep = dict(preset=a.sweep, runs=runs)
        # The same sweep again continues it, as experiment.RunSweep does, a
        # run at a time: finished runs are kept, an unfinished one resumes
        # from its checkpoint, or starts again without one.
        recorded = os.path.join(d, 'sweep.json')
        if os.path.exists(recorded):
            with open(recorded) as f:
                if json.load(f) != json.loads(json.dumps(sweep)):
                    raise SystemExit('sweep directory %s holds another sweep; choose another --out' % d)
        else:
            refuse_nonempty(d, 'sweep')
        ds = load_cifar10(a.data)
        ds = (ds[0], ds[1], 'test')
        os.makedirs(d, exist_ok=True)
        write_json(recorded, sweep)
        results = []
        for i, c in enumerate(runs):
            rd = os.path.join(d, c['model'])
            if os.path.exists(os.path.join(rd, 'result.json')):
                with open(os.path.join(rd, 'result.json')) as f:
                    results.append(json.load(f))
                continue
            resume = os.path.exists(os.path.join(rd, CHECKPOINT))
            if not resume:
                shutil.rmtree(rd, ignore_errors=True)
            log('sweep %s: run %d/%d, %s, in %s' % (a.sweep, i + 1, len(runs), c['model'], rd))
            results.append(run(c, ds, rd, a.data_rng, log, resume=resume))
        summarize(d, a.sweep, results)
        log('sweep done: %s' % os.path.join(d, 'summary.md'))
        return
    if a.models is not None:
        raise SystemExit('--models goes with --sweep (a single run takes --model)')
    cfg = apply(paper(a.model or 'resnet20'))
    d = a.out or os.path.join('runs', 'twin-%s-%s' % (cfg['model'], stamp))
    refuse_nonempty(d, 'run')
    if a.save_init and not os.path.isdir(os.path.dirname(os.path.abspath(a.save_init))):
        raise SystemExit('--save-init %s: its directory does not exist' % a.save_init)
    ds = load_cifar10(a.data)
    report(run(cfg, (ds[0], ds[1], 'test'), d, a.data_rng, log, a.save_init), d)


def resume_run(a):
    """--resume DIR: the run recorded in DIR, from its checkpoint."""
    d = a.resume
    try:
        with open(os.path.join(d, 'config.json')) as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit('--resume %s: no run there (%s)' % (d, e))
    if os.path.exists(os.path.join(d, 'result.json')):
        raise SystemExit('--resume %s: the run has finished (result.json)' % d)
    if not os.path.exists(os.path.join(d, CHECKPOINT)):
        raise SystemExit('--resume %s: no %s: the run stopped before its first checkpoint; start it again'
                         % (d, CHECKPOINT))
    cfg = info['config']
    torch.set_num_threads(info['threads'])
    ds = load_cifar10(data_path(a.data or cfg['data']))
    log = lambda s: print(s, flush=True)  # noqa: E731
    report(run(cfg, (ds[0], ds[1], 'test'), d, info['data_rng'], log, resume=True), d)


def report(r, d):
    print('%s %d params train err %.2f%% %s err %.2f%% (best %.2f%%) in %s' % (
        r['model'], r['params'], 100 * r['final_train_err'], r['eval_set'], 100 * r['final_test_err'],
        100 * r['best_test_err'], d), flush=True)


if __name__ == '__main__':
    main()
