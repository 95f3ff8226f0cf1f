# PyTorch side of `pnpm bench` (bench/cpu.ts runs it after our rows, in the same window): the same workloads
# on the same numbers, read from bench/out/torch/ (safetensors files and manifest.json written by bench/torch.ts).
# Rows: matmul 256/512/1024, conv2d 3x3 fwd and fwd + grads, the tiny-CNN SGD step, and the LAD rows (teacher
# step, dual path, at 48 and 96; student step): a tiny DeepLabV3 written here to mirror @lad/lad's (parameter
# names match its state dict), checked against our first-step loss before it is timed.
# Usage: python3 bench/torch_bench.py DIR THREADS...  -> one JSON object on stdout. Not a dependency, not in CI.

import json
import math
import statistics
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32, 'I64': torch.int64}


def load_safetensors(path):
    """A minimal safetensors reader (the format: u64 header length, JSON header, raw little-endian data)."""
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        t = torch.frombuffer(bytearray(raw[base + a:base + b]), dtype=DTYPES[info['dtype']]) if b > a else torch.zeros(0, dtype=DTYPES[info['dtype']])
        out[name] = t.reshape(info['shape']).clone()
    return out


WARMUP = 2  # untimed runs, as bench/cpu.ts's WARMUP


def timed(fn, reps, budget_s=20.0):
    """Median and min wall time (ms) over up to `reps` runs after WARMUP untimed ones, as bench/cpu.ts's `time`."""
    t0 = time.perf_counter()
    fn()
    warm = time.perf_counter() - t0
    if warm > budget_s:
        return {'ms': warm * 1e3, 'minMs': warm * 1e3, 'runs': 1, 'cold': True}
    for _ in range(WARMUP - 1):
        fn()
    samples, spent = [], 0.0
    while len(samples) < reps and (not samples or spent < budget_s):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        spent += samples[-1]
    return {'ms': statistics.median(samples) * 1e3, 'minMs': min(samples) * 1e3, 'runs': len(samples), 'cold': False}


# ---- the tiny DeepLabV3 of @lad/lad (models/build.ts TINY_MODEL, ResNet-18 v1s at width B, OS 8) ----------

def conv(i, o, k, stride=1, dilation=1):
    return nn.Conv2d(i, o, k, stride, dilation * (k - 1) // 2, dilation, bias=False)


class ConvBNReLU(nn.Module):
    def __init__(self, i, o, k, dilation=1):
        super().__init__()
        self.conv, self.bn = conv(i, o, k, 1, dilation), nn.BatchNorm2d(o)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    def __init__(self, i, planes, stride, d1, d2):
        super().__init__()
        self.conv1, self.bn1 = conv(i, planes, 3, stride, d1), nn.BatchNorm2d(planes)
        self.conv2, self.bn2 = conv(planes, planes, 3, 1, d2), nn.BatchNorm2d(planes)
        self.downsample = nn.Sequential(conv(i, planes, 1, stride), nn.BatchNorm2d(planes)) if stride != 1 or i != planes else None

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(h))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNetV1s(nn.Module):
    def __init__(self, in_c, B):
        super().__init__()
        self.conv1 = nn.Sequential(conv(in_c, B, 3, 2), nn.BatchNorm2d(B), nn.ReLU(), conv(B, B, 3), nn.BatchNorm2d(B), nn.ReLU(), conv(B, 2 * B, 3))
        self.bn1 = nn.BatchNorm2d(2 * B)
        planes, ins, strides, dil = [B, 2 * B, 4 * B, 8 * B], [2 * B, B, 2 * B, 4 * B], [1, 2, 1, 1], [1, 1, 2, 4]
        for s in range(4):
            first = 1 if dil[s] <= 2 else 2
            blocks = [BasicBlock(ins[s], planes[s], strides[s], first, dil[s]), BasicBlock(planes[s], planes[s], 1, dil[s], dil[s])]
            setattr(self, f'layer{s + 1}', nn.Sequential(*blocks))

    def forward(self, x):
        c = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        feats = []
        for s in range(4):
            c = getattr(self, f'layer{s + 1}')(c)
            feats.append(c)
        return feats


class ImagePool(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.block = ConvBNReLU(i, o, 1)

    def forward(self, x):
        return self.block(x.mean([2, 3], keepdim=True)).expand(-1, -1, x.shape[2], x.shape[3])


class ASPPHead(nn.Module):
    def __init__(self, C, D, K, p):
        super().__init__()
        self.branches = nn.ModuleList([ConvBNReLU(C, D, 1)] + [ConvBNReLU(C, D, 3, d) for d in (12, 24, 36)])
        self.imagePool = ImagePool(C, D)
        self.project = ConvBNReLU(5 * D, D, 1)
        self.dropout1, self.bottleneck, self.dropout2 = nn.Dropout2d(p), ConvBNReLU(D, D, 3), nn.Dropout2d(p)
        self.convSeg = nn.Conv2d(D, K, 1)

    def forward(self, feats):
        x = feats[3]
        h = self.dropout1(self.project(torch.cat([b(x) for b in self.branches] + [self.imagePool(x)], 1)))
        return self.convSeg(self.dropout2(self.bottleneck(h)))


class FCNHead(nn.Module):
    def __init__(self, C, D, K, p):
        super().__init__()
        self.convs = nn.Sequential(ConvBNReLU(C, D, 3))
        self.dropout, self.convSeg = nn.Dropout2d(p), nn.Conv2d(D, K, 1)

    def forward(self, feats):
        return self.convSeg(self.dropout(self.convs(feats[2])))


class EncoderDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        B, D, K, p = cfg['width'], cfg['headChannels'], cfg['numClasses'], cfg['dropout']
        self.backbone = ResNetV1s(cfg['inChannels'], B)
        self.decodeHead = ASPPHead(8 * B, D, K, p)
        self.auxiliaryHead = FCNHead(4 * B, max(1, (4 * B) >> 2), K, p)

    def forward(self, x):
        feats = self.backbone(x)
        return self.decodeHead(feats), self.auxiliaryHead(feats)


def build(cfg, sd):
    m = EncoderDecoder(cfg)
    m.load_state_dict(sd, strict=True)  # fails on any name or shape that differs from ours
    return m


def set_dropout(m, p):
    for mod in m.modules():
        if isinstance(mod, nn.Dropout2d):
            mod.p = p


# ---- LAD losses (packages/lad/src/losses.ts) --------------------------------------------------------

def up_ce(logits, labels):
    up = F.interpolate(logits, size=labels.shape[1:], mode='bilinear', align_corners=True)
    return F.cross_entropy(up, labels, ignore_index=-1)


def seg_loss(out, labels, aux_w):
    return up_ce(out[0], labels) + aux_w * up_ce(out[1], labels)


def cwd(s, t, T):
    N, C, H, W = s.shape
    s, t = s.reshape(N * C, H * W) / T, t.detach().reshape(N * C, H * W) / T
    return (F.softmax(t, 1) * (F.log_softmax(t, 1) - F.log_softmax(s, 1))).sum() * (T * T) / (N * C)


def teacher_loss(m, d, c):
    m.train()
    o1, o2 = m(d['x1']), m(d['x2'])
    loss = seg_loss(o1, d['labels'], c['auxWeightTeacher']) + seg_loss(o2, d['labels'], c['auxWeightTeacher'])
    return loss + c['consWeight'] * (cwd(o1[0], o2[0], c['consT']) + cwd(o2[0], o1[0], c['consT']))


def student_loss(s, t, d, c):
    s.train(), t.eval()
    with torch.no_grad():
        tz = t(d['xt'])[0]
    o = s(d['xs'])
    return seg_loss(o, d['labels'], c['auxWeightStudent']) + c['kdWeight'] * cwd(o[0], tz, c['kdT'])


def split(sd, prefix):
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def lad_row(spec, d):
    """A LAD row: model(s) from our weights, the first-step loss check (dropout off), then the timed step."""
    sd, c = load_safetensors(f"{d}/{spec['file']}"), spec['config']
    inputs = {k: v.long() if v.dtype == torch.int32 else v for k, v in split(sd, 'in.').items()}
    if spec['kind'] == 'teacher':
        model = build(c['model'], split(sd, 'model.'))
        loss_fn, params = (lambda: teacher_loss(model, inputs, c)), model
    else:
        model, teacher = build(c['model'], split(sd, 'student.')), build(c['model'], split(sd, 'teacher.'))
        for q in teacher.parameters():
            q.requires_grad_(False)
        loss_fn, params = (lambda: student_loss(model, teacher, inputs, c)), model
    set_dropout(model, 0.0)
    with torch.no_grad():
        loss0 = loss_fn().item()
    set_dropout(model, c['model']['dropout'])
    opt = torch.optim.SGD(params.parameters(), lr=c['lr'], momentum=c['momentum'], weight_decay=c['weightDecay'])

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn().backward()
        opt.step()
    return {**timed(step, spec.get('reps', 10), 30.0), 'loss0': loss0}


def cnn_row(d, c):
    sd = load_safetensors(f'{d}/cnn.safetensors')
    ps = [sd[k].clone().requires_grad_() for k in sorted(k for k in sd if k.startswith('p.'))]  # p.00 ... ordered
    x, target = sd['x'], sd['target'].long()
    losses = []

    def step():
        h = x
        for i in range(c['depth']):
            w, g, b = ps[3 * i:3 * i + 3]
            h = F.relu(F.batch_norm(F.conv2d(h, w, padding=1), None, None, g, b, True, 0.1, c['eps']))
        loss = F.cross_entropy(F.conv2d(h, ps[-2], ps[-1]), target)
        for q in ps:
            q.grad = None
        loss.backward()
        with torch.no_grad():
            for q in ps:
                q.sub_(q.grad, alpha=c['lr'])
        losses.append(loss.item())
    r = timed(step, 10, 30.0)
    return {**r, 'loss0': losses[0], 'loss1': losses[1]}


def rows(d, manifest):
    sd = load_safetensors(f'{d}/ops.safetensors')
    out = {}
    for n in manifest['matmul']:
        a, b = sd[f'mm{n}.a'], sd[f'mm{n}.b']
        r = timed(lambda: torch.mm(a, b), 5 if n >= 1024 else 10)
        out[f'matmul{n}'] = {**r, 'gflops': 2 * n ** 3 / (r['ms'] * 1e6)}
    x, w, gy = sd['conv.x'], sd['conv.w'], sd['conv.gy']
    with torch.no_grad():
        out['conv2dForward'] = timed(lambda: F.conv2d(x, w, padding=1), 5)
    xg, wg = x.clone().requires_grad_(), w.clone().requires_grad_()
    out['conv2dForwardBackward'] = timed(lambda: torch.autograd.grad(F.conv2d(xg, wg, padding=1), [xg, wg], gy), 5)
    out['trainStep'] = cnn_row(d, manifest['cnn'])
    for name, spec in manifest['lad'].items():
        out[name] = lad_row(spec, d)
    return out


def main():
    d, threads = sys.argv[1], [int(t) for t in sys.argv[2:]] or [2, 1]
    with open(f'{d}/manifest.json') as f:
        manifest = json.load(f)
    torch.manual_seed(0)
    result = {'version': torch.__version__, 'threads': {}}
    for t in threads:
        torch.set_num_threads(t)
        result['threads'][str(t)] = rows(d, manifest)
        print(f'torch {t} thread(s) done', file=sys.stderr, flush=True)
    print(json.dumps(result, allow_nan=True))


if __name__ == '__main__':
    main()
