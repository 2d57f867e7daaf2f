#!/usr/bin/python3
"""Writes the PyTorch parity fixtures of package weights into testdata/parity/.

Run with Debian's PyTorch (python3-torch 1.13, python3-torchvision 0.14):

    /usr/bin/python3 scripts/parity/make_fixtures.py

It writes, for two networks,

    <net>.safetensors     the weights, under torchvision's state_dict names: the
                          file weights.Load reads (F32; num_batches_tracked I64)
    <net>_io.safetensors  input (F32, N,3,H,W), target (I64, N), the eval-mode
                          logits (F64), and from one training-mode step the
                          logits, the mean cross-entropy "loss" (F64 scalar),
                          "grad.<param>" for a few parameters (F64) and
                          "after.<buffer>" for a few running statistics (F64)

  resnet20    the CIFAR-10 ResNet-20 (option-A shortcuts) as the PyTorch twin
              trainer builds it (CifarNet of scripts/twin/train_twin.py), with
              the zoo's module names: conv1, bn1, layer1..layer3
              (nn.Sequential of BasicBlocks), fc; plain20 its plain twin.
  bottleneck  torchvision's ResNet layout (7x7/2 stem, BN, ReLU, 3x3/2 max pool,
              four stages of torchvision.models.resnet.Bottleneck with option-B
              "downsample", average pool, fc) with one block per stage, narrowed
              to an 8-channel stem and 4/8/16/32 planes so the fixture stays
              small (resnet50's widths would be 32 MB); 48x48 input.

Every weight and running statistic is rounded to float32 and the networks run
in float64, so the F32 weight file describes the float64 networks exactly.
BN weights and biases are random, and the running statistics come from three
training-mode forward passes on random data, so they are far from 0 and 1.

It also writes preprocess.png (a random 37x29 RGB image) and
preprocess.safetensors: torchvision's tensor pipeline Resize(20, bilinear,
antialias=False) -> CenterCrop(16) -> ConvertImageDtype(float) ->
Normalize(ImageNet mean, std) applied to it, for package predict.

safetensors files are written by hand (8-byte little-endian header length,
JSON header, raw little-endian data) as the safetensors package is not
available here.
"""
import copy
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.transforms as T
from PIL import Image
from torchvision.models.resnet import Bottleneck, conv1x1

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'twin'))
from train_twin import CifarNet  # noqa: E402  the zoo's CIFAR nets in PyTorch, as the twin trains them

# No ReLU input of the plain20 fixture's batch lies this close to 0. The
# batch drawn before had five within 2e-6 of 0, one at -3.7e-7, and float32
# convolutions summing in another order flipped the gradients by up to 3%.
PLAIN_MARGIN = 1e-5

OUT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'testdata', 'parity'))

DTYPES = {torch.float32: ('F32', '<f4'), torch.float64: ('F64', '<f8'), torch.int64: ('I64', '<i8')}


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (a dict name -> torch.Tensor) as a safetensors file."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dtype, np_dtype = DTYPES[t.dtype]
        data = t.numpy().astype(np_dtype).tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = metadata
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * (-len(h) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print(f'{os.path.relpath(path)}: {os.path.getsize(path)} bytes')


# --- torchvision's ResNet layout with Bottlenecks [1, 1, 1, 1], narrowed ---

class TinyBottleneckResNet(nn.Module):
    """torchvision.models.resnet.ResNet with Bottleneck blocks, but with a
    configurable stem width and stage planes (its __init__ hard-codes 64 and
    64/128/256/512). _make_layer is copied from torchvision 0.14."""

    def __init__(self, stem=8, planes=(4, 8, 16, 32), layers=(1, 1, 1, 1), num_classes=10):
        super().__init__()
        self.inplanes = stem
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for k, (p, n) in enumerate(zip(planes, layers), start=1):
            setattr(self, f'layer{k}', self._make_layer(p, n, stride=1 if k == 1 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(planes[-1] * Bottleneck.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * Bottleneck.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * Bottleneck.expansion, stride),
                nn.BatchNorm2d(planes * Bottleneck.expansion),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * Bottleneck.expansion
        for _ in range(1, blocks):
            layers.append(Bottleneck(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def randomize(model, shape):
    """Random BN affine parameters, running statistics from three training
    forwards on random data, everything rounded to float32."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
        model.train()
        for _ in range(3):
            model(torch.randn(8, *shape, dtype=torch.float64) * 1.5 + 0.3)
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.float().double())


def relu_margin(model, x):
    """The smallest |input| of any ReLU in a training-mode forward of x, for
    nets whose every BatchNorm feeds a ReLU (the plain nets), on a copy so
    that the model's running statistics stay as they are."""
    model = copy.deepcopy(model)
    margin = [float('inf')]

    def hook(_module, _inputs, output):
        margin[0] = min(margin[0], output.abs().min().item())

    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.register_forward_hook(hook)
    model.train()
    with torch.no_grad():
        model(x.double())
    return margin[0]


def make(name, model, shape, grads, after, batch=4, classes=10, margin=0.0):
    """Writes the fixtures of one net. With margin, the batch is drawn again
    until no ReLU input lies within margin of 0: a float32 network decides
    such a ReLU by its rounding, so a float32 gradient compared with the
    float64 one would depend on luck."""
    model = model.double()
    randomize(model, shape)
    weights = {k: (v.float() if v.is_floating_point() else v.clone()) for k, v in model.state_dict().items()}
    save_safetensors(os.path.join(OUT, f'{name}.safetensors'), weights,
                     {'format': 'pt', 'model': name, 'num_classes': str(classes), 'source': 'scripts/parity/make_fixtures.py'})

    for draws in range(1, 100001):
        x = torch.randn(batch, *shape).float()
        y = torch.randint(0, classes, (batch,))
        if margin == 0 or relu_margin(model, x) >= margin:
            break
    else:
        raise SystemExit(f'{name}: no batch with every ReLU input {margin} from 0 in {draws} draws')
    if margin:
        print(f'  batch {draws}: every ReLU input at least {margin} from 0')
    io = {'input': x, 'target': y}
    model.eval()
    with torch.no_grad():
        io['logits_eval'] = model(x.double())
    model.train()
    model.zero_grad()
    out = model(x.double())
    loss = F.cross_entropy(out, y)
    loss.backward()
    io['logits_train'] = out.detach()
    io['loss'] = loss.detach()
    params = dict(model.named_parameters())
    for g in grads:
        io['grad.' + g] = params[g].grad
    state = model.state_dict()
    for a in after:
        io['after.' + a] = state[a].double() if state[a].is_floating_point() else state[a]
    save_safetensors(os.path.join(OUT, f'{name}_io.safetensors'), io, {'format': 'pt', 'model': name})
    print(f'  loss {loss.item():.6f}, eval logits[0] {io["logits_eval"][0, :3].tolist()}')


def preprocess_fixture():
    rng = np.random.default_rng(7)
    # A smooth image plus noise, so interpolation is exercised on real gradients.
    yy, xx = np.mgrid[0:29, 0:37]
    base = np.stack([xx * 6, yy * 8, (xx + yy) * 3], axis=-1).astype(np.float64)
    img = np.clip(base + rng.integers(-40, 40, size=base.shape), 0, 255).astype(np.uint8)
    path = os.path.join(OUT, 'preprocess.png')
    Image.fromarray(img, 'RGB').save(path)
    print(f'{os.path.relpath(path)}: {os.path.getsize(path)} bytes')
    t = torch.from_numpy(np.array(Image.open(path).convert('RGB'))).permute(2, 0, 1).contiguous()
    pipeline = T.Compose([
        T.Resize(20, interpolation=T.InterpolationMode.BILINEAR, antialias=False),
        T.CenterCrop(16),
        T.ConvertImageDtype(torch.float32),
        T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
    ])
    out = pipeline(t)
    resized = T.Resize(20, interpolation=T.InterpolationMode.BILINEAR, antialias=False)(t)
    save_safetensors(os.path.join(OUT, 'preprocess.safetensors'),
                     {'expected': out, 'resized_u8': resized.to(torch.int64)},
                     {'resize': '20', 'crop': '16', 'source': 'scripts/parity/make_fixtures.py'})


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    os.makedirs(OUT, exist_ok=True)
    make('resnet20', CifarNet(3, plain=False), (3, 32, 32),
         grads=['conv1.weight', 'bn1.weight', 'bn1.bias', 'layer1.0.conv1.weight', 'layer2.0.conv1.weight',
                'layer2.0.bn1.bias', 'layer3.2.bn2.weight', 'layer3.2.bn2.bias', 'fc.weight', 'fc.bias'],
         after=['bn1.running_mean', 'layer3.2.bn2.running_var', 'layer3.2.bn2.num_batches_tracked'])
    make('bottleneck', TinyBottleneckResNet(), (3, 48, 48),
         grads=['conv1.weight', 'bn1.weight', 'layer1.0.downsample.0.weight', 'layer1.0.conv2.weight',
                'layer2.0.downsample.0.weight', 'layer2.0.downsample.1.weight', 'layer4.0.conv3.weight',
                'layer4.0.bn3.weight', 'layer4.0.bn3.bias', 'fc.weight', 'fc.bias'],
         after=['bn1.running_mean', 'layer4.0.bn2.running_var', 'layer4.0.downsample.1.running_mean'])
    preprocess_fixture()
    # Last, so the fixtures above keep their random numbers.
    make('plain20', CifarNet(3, plain=True), (3, 32, 32),
         grads=['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer1.2.bn2.weight', 'layer2.0.conv1.weight',
                'layer3.2.conv2.weight', 'layer3.2.bn2.weight', 'layer3.2.bn2.bias', 'fc.weight', 'fc.bias'],
         after=['bn1.running_mean', 'layer3.2.bn2.running_var'], margin=PLAIN_MARGIN)


if __name__ == '__main__':
    main()
