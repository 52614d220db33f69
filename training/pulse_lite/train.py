"""Self-supervised pre-training then supervised training, with resumable checkpoints.

    /usr/bin/python3 -m training.pulse_lite.train [--out training/runs/main] [--device cpu|cuda]
        [--recipe v1.1|v1.0] [--set key=value ...] [--holdout splits|none|id,id,...]
    /usr/bin/python3 -m training.pulse_lite.train --smoke      # one tiny step each stage, synthetic data

Writes <out>/ckpt.pt every CHECKPOINT_EVERY steps (an interrupted run resumes from it; it records the
recipe, and a run with another recipe refuses to resume it), <out>/best.pt (recipe select 'best': the
highest validation Dice; 'last': the final step) and <out>/log.jsonl. The shipped 1.0 weights:
`--recipe v1.0` (config.RECIPES).
"""
import argparse
import copy
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import config as C
from .augment import centre_window, intensity, spatial
from .geometry import neighbours, normalise
from .losses import composite
from .model import PulseLite


def load_cache(path):
    z = np.load(path)
    patients = json.loads(str(z['patients']))
    val_ids = set(json.loads(str(z['validation'])))
    meta = z['meta'].astype(np.int64)
    is_val = np.array([patients[p]['id'] in val_ids for p in meta[:, 0]])
    return z['image'], z['label'], meta, is_val


def synthetic_cache(n=24, canvas=72, seed=0):
    """Ellipse phantoms for the smoke test (no ACDC needed)."""
    g = np.random.default_rng(seed)
    yy, xx = np.mgrid[:canvas, :canvas] - canvas / 2
    img = np.zeros((n, canvas, canvas), np.uint8)
    lab = np.zeros((n, canvas, canvas), np.uint8)
    for i in range(n):
        r = g.uniform(6, 10)
        d = np.hypot(yy, xx)
        lab[i][(d < r + 4)] = 2
        lab[i][(d < r)] = 3
        lab[i][(np.hypot(yy, xx + r + 8) < r * 0.8) & (lab[i] == 0)] = 1
        img[i] = np.clip(60 + 120 * (lab[i] == 3) + 100 * (lab[i] == 1) + g.normal(0, 10, lab[i].shape), 0, 255)
    meta = np.stack([np.arange(n) // 4, (np.arange(n) // 2) % 2, np.arange(n) % 2, np.full(n, 2), (np.arange(n) // 4) % 5], 1)
    return img, lab, meta, (np.arange(n) // 4) >= 5


def neighbour_index(meta):
    """[N,3] cache indices of the (previous, self, next) slice of every slice (a stack's slices are consecutive)."""
    rows = [[i - int(z) + k for k in neighbours(int(z), int(nz))] for i, (z, nz) in enumerate(zip(meta[:, 2], meta[:, 3]))]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def stack_channels(img, nbr, idx, channels):
    """img [N,K,K] (any tensor type), nbr [N,3] -> [len(idx), channels, K, K] for cache indices idx."""
    if channels == 1:
        return img[idx][:, None]
    return torch.stack([img[nbr[idx, c]] for c in range(3)], 1)


def lr_at(step, total, base, warmup=C.WARMUP):
    if step < warmup:
        return base * (step + 1) / warmup
    return 1e-5 + (base - 1e-5) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


@torch.no_grad()
def validate(model, img, lab, meta, nbr, va, size, device, channels):
    """Mean 3D Dice (RV, MYO, LV) per patient and phase on the model grid (selection proxy)."""
    model.eval()
    inter = {}
    for s in range(0, len(va), 64):
        rows = va[s:s + 64]
        x = normalise(centre_window(stack_channels(img, nbr, rows, channels).float(), size))
        pred = model(x.to(device))[0].argmax(1).cpu()
        y = centre_window(lab[rows], size)
        for k in range(len(x)):
            key = (int(meta[rows[k], 0]), int(meta[rows[k], 1]))
            acc = inter.setdefault(key, np.zeros((3, 3)))
            for c in range(1, 4):
                p, t = pred[k] == c, y[k] == c
                acc[c - 1] += [float((p & t).sum()), float(p.sum()), float(t.sum())]
    dices = np.array([[2 * a[c, 0] / max(a[c, 1] + a[c, 2], 1) for c in range(3)] for a in inter.values()])
    model.train()
    return dices.mean(0)   # RV, MYO, LV


def load_checkpoint(path, device='cpu'):
    try:
        return torch.load(path, map_location=device, weights_only=False)
    except TypeError:   # older torch without weights_only
        return torch.load(path, map_location=device)


def save_atomic(obj, path):
    tmp = str(path) + '.tmp'
    torch.save(obj, tmp)
    os.replace(tmp, path)


def holdout_mask(cache_path, meta, spec):
    """Which cache slices are held out: spec 'splits' (the cache's fixed validation patients), 'none', or a
    comma-separated list of patient IDs."""
    z = np.load(cache_path)
    patients = [p['id'] for p in json.loads(str(z['patients']))]
    if spec == 'splits':
        held = set(json.loads(str(z['validation'])))
    elif spec == 'none':
        held = set()
    else:
        held = set(x for x in spec.split(',') if x)
        unknown = held - set(patients)
        if unknown:
            raise ValueError(f'--holdout names patients not in the cache: {sorted(unknown)}')
    return np.array([patients[p] in held for p in meta[:, 0]])


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=str(C.RUNS / 'main'))
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--cache', default=str(C.CACHE))
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--recipe', default=C.DEFAULT_RECIPE, help=f'named recipe ({", ".join(C.RECIPES)}); v1.0 = the shipped weights')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', help='override one switch of the recipe')
    ap.add_argument('--holdout', default='splits', help="'splits' (fixed validation patients), 'none', or comma-separated IDs")
    ap.add_argument('--smoke', action='store_true', help='one tiny step per stage on synthetic phantoms')
    ap.add_argument('--max-seconds', type=float, default=0, help='stop (with a checkpoint) after this long')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rc = C.recipe(a.recipe, a.set)
    if a.smoke:
        img, lab, meta, is_val = synthetic_cache()
        rc = dict(rc, pretrain_steps=1, train_steps=1, batch=4)
        return train(a.out, img, lab, meta, is_val, rc, a.device, size=64, canvas=72, smoke=True, max_seconds=a.max_seconds)
    img, lab, meta, is_val = load_cache(a.cache)
    if a.holdout != 'splits':
        is_val = holdout_mask(a.cache, meta, a.holdout)
    return train(a.out, img, lab, meta, is_val, rc, a.device, max_seconds=a.max_seconds)


def train(out, img, lab, meta, is_val, rc, device, size=C.SIZE, canvas=C.CANVAS, smoke=False, max_seconds=0, quiet=False):
    """Trains on the slices where is_val is False. rc['select'] 'best' keeps the checkpoint with the best
    validation Dice on the is_val slices (evaluated every EVAL_EVERY steps); 'last' never looks at them
    and keeps the final step. Returns 0 when done, 2 when stopped by max_seconds (run again to resume)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    batch, pre_steps, steps = rc['batch'], rc['pretrain_steps'], rc['train_steps']
    tr = np.where(~is_val)[0]
    va = np.where(is_val)[0]
    if rc['select'] == 'best' and len(va) == 0:
        raise ValueError("recipe select 'best' needs held-out validation patients (use select=last)")
    nbr = neighbour_index(meta)
    channels = C.IN_CHANNELS
    aimg = torch.from_numpy(img).to(dev)
    alab = torch.from_numpy(lab).to(dev)
    agroup = torch.from_numpy(meta[:, 4]).long().to(dev)
    aes = torch.from_numpy(meta[:, 1] == 1).to(dev)
    tnbr = torch.from_numpy(nbr).to(dev)
    ttr = torch.from_numpy(tr).to(dev)
    vimg, vlab = torch.from_numpy(img), torch.from_numpy(lab).long()

    torch.manual_seed(C.SEED)
    model = PulseLite(in_ch=channels).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=rc['lr'], weight_decay=rc['weight_decay'])
    ema = copy.deepcopy(model)      # exponential moving average of the weights: what is validated and shipped
    state = {'stage': 'pretrain', 'step': 0, 'best': -1.0, 'elapsed': 0.0}
    ck = out / 'ckpt.pt'
    if ck.exists():
        saved = load_checkpoint(ck, dev)
        if saved.get('recipe', rc) != rc:
            raise ValueError(f'{ck} was written by recipe {saved["recipe"].get("name")}, not {rc["name"]}: use another --out')
        model.load_state_dict(saved['model'])
        ema.load_state_dict(saved['ema'])
        opt.load_state_dict(saved['opt'])
        state = saved['state']
        torch.set_rng_state(saved['rng'].cpu())
        if 'cuda_rng' in saved and dev.type == 'cuda':
            torch.cuda.set_rng_state(saved['cuda_rng'].cpu(), dev)
        print(f"resumed {state['stage']} at step {state['step']}", flush=True)
    log = open(out / 'log.jsonl', 'a')
    t_start = time.time()
    elapsed0 = state['elapsed']

    def checkpoint():
        state['elapsed'] = elapsed0 + time.time() - t_start
        extra = {'cuda_rng': torch.cuda.get_rng_state(dev)} if dev.type == 'cuda' else {}
        save_atomic({'model': model.state_dict(), 'ema': ema.state_dict(), 'opt': opt.state_dict(), 'state': state,
                     'rng': torch.get_rng_state(), 'recipe': rc, **extra}, ck)

    def batch_of(n):
        idx = ttr[torch.randint(0, len(ttr), (n,), device=dev)]
        x = stack_channels(aimg, tnbr, idx, channels).float()
        if channels > 1:   # stacks come base-first or apex-first: either neighbour order
            rev = torch.rand(n, device=dev) < 0.5
            x = torch.where(rev[:, None, None, None], x.flip(1), x)
        x, y = spatial(x, alab[idx].long(), size, canvas, C.SPACING_MM, rc=rc)
        return intensity(x, rc=rc), y, agroup[idx], aes[idx]

    def emit(rec):
        if not quiet:
            print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + '\n')
        log.flush()

    model.train()
    t_last = time.time()
    while state['stage'] != 'done':
        stage = state['stage']
        total = pre_steps if stage == 'pretrain' else steps
        if state['step'] >= total:
            state['stage'] = 'train' if stage == 'pretrain' else 'done'
            state['step'] = 0
            if state['stage'] == 'train':   # fresh optimiser for the supervised stage
                opt = torch.optim.AdamW(model.parameters(), lr=rc['lr'], weight_decay=rc['weight_decay'])
                ema.load_state_dict(model.state_dict())
            checkpoint()
            continue
        step = state['step']
        for gp in opt.param_groups:
            gp['lr'] = lr_at(step, total, rc['lr'], rc['warmup'])
        x, y, g, es = batch_of(batch)
        if stage == 'pretrain':
            # masked-token reconstruction: hide half of the 16x16 token cells, reconstruct them
            cells = size // 16
            keep = (torch.rand(len(x), 1, cells, cells, device=dev) > 0.5).float()
            keep = F.interpolate(keep, size=x.shape[-2:], mode='nearest')
            rec = model.reconstruct(x * keep)
            hidden = 1 - keep
            loss = ((rec - x) ** 2 * hidden).sum() / hidden.sum().clamp_min(1) + 0.1 * F.mse_loss(rec, x)
            parts = {'recon': loss.detach()}
        else:
            logits, _, _, diag = model(x)
            loss, parts = composite(logits, diag, y, g, rc, es)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if stage == 'train':
            with torch.no_grad():
                for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                    if e.dtype.is_floating_point:
                        e.mul_(rc['ema_decay']).add_(m.detach(), alpha=1 - rc['ema_decay'])
                    else:
                        e.copy_(m)
        state['step'] += 1
        if state['step'] % 50 == 0 or smoke:
            now = time.time()
            emit({'stage': stage, 'step': state['step'], 'loss': float(loss), **{k: float(v) for k, v in parts.items()},
                  'sec_per_step': (now - t_last) / (1 if smoke else 50), 'elapsed': elapsed0 + now - t_start})
            t_last = now
        if stage == 'train' and rc['select'] == 'best' and (state['step'] % C.EVAL_EVERY == 0 or state['step'] == total):
            d = validate(ema, vimg, vlab, meta, nbr, va, size, dev, channels)
            score = float(d.mean())
            rec = {'stage': 'val', 'step': state['step'], 'dice_rv': float(d[0]), 'dice_myo': float(d[1]), 'dice_lv': float(d[2]), 'mean': score}
            emit(rec)
            if score > state['best']:
                state['best'] = score
                save_atomic({'model': ema.state_dict(), 'step': state['step'], 'val': rec, 'recipe': rc}, out / 'best.pt')
        if state['step'] % C.CHECKPOINT_EVERY == 0:
            checkpoint()
        if max_seconds and time.time() - t_start > max_seconds:
            checkpoint()
            print('stopping on --max-seconds; rerun to resume', flush=True)
            return 2
    if rc['select'] == 'last' or (smoke and not (out / 'best.pt').exists()):
        if not (out / 'best.pt').exists():
            save_atomic({'model': ema.state_dict(), 'step': steps, 'val': {}, 'recipe': rc}, out / 'best.pt')
    checkpoint()
    # what the model card records about a run: hardware, time, seed, recipe
    hw = torch.cuda.get_device_name(dev) if dev.type == 'cuda' else f'CPU {platform.machine()}, {torch.get_num_threads()} threads'
    done = {'done': True, 'best': state['best'], 'elapsed': state['elapsed'], 'device': hw, 'torch': torch.__version__,
            'seed': C.SEED, 'recipe': rc['name']}
    print(json.dumps(done), flush=True)
    log.write(json.dumps(done) + '\n')
    log.close()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
