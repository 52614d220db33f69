"""Composite loss: soft Dice + cross-entropy + Lovasz-softmax (boundary-aware IoU surrogate) + diagnosis CE."""
import torch
import torch.nn.functional as F

from . import config as C


def soft_dice(logits, target, eps=1.0):
    p = logits.softmax(1)
    oh = F.one_hot(target, p.shape[1]).permute(0, 3, 1, 2).float()
    inter = (p * oh).sum((0, 2, 3))
    den = p.sum((0, 2, 3)) + oh.sum((0, 2, 3))
    dice = (2 * inter + eps) / (den + eps)
    return 1 - dice[1:].mean()                      # foreground classes


def _lovasz_grad(gt_sorted):
    gts = gt_sorted.sum()
    inter = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jac = 1 - inter / union
    jac[1:] = jac[1:] - jac[:-1]
    return jac


def lovasz_softmax(logits, target):
    """Berman et al. 2018, over the batch, mean over the foreground classes present in the batch. Absent
    classes are masked out rather than skipped, so no step waits for the GPU to say which are present."""
    p = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    t = target.reshape(-1)
    losses, present = [], []
    for c in range(1, p.shape[1]):
        fg = (t == c).float()
        err = (fg - p[:, c]).abs()
        err_sorted, perm = torch.sort(err, descending=True)
        losses.append(torch.dot(err_sorted, _lovasz_grad(fg[perm])))
        present.append(fg.amax())
    losses, present = torch.stack(losses), torch.stack(present)
    return (losses * present).sum() / present.sum().clamp_min(1)


def rv_dice(logits, target, items, eps=1.0):
    """1 - soft Dice of the RV cavity (label 1) alone, pooled over the items where `items` [B] is true
    (0 when there are none); masked rather than indexed, so the GPU never waits for the CPU here."""
    m = items.to(logits.dtype)[:, None, None]
    p = logits.softmax(1)[:, 1] * m
    t = (target == 1).to(logits.dtype) * m
    return 1 - (2 * (p * t).sum() + eps) / (p.sum() + t.sum() + eps)


def composite(logits, diag_logits, target, group, rc=C.RECIPES['v1.0'], es=None):
    """es: [B] bool, the items that are end-systolic slices (needed when rc['w_rv_es_dice'] > 0)."""
    dice = soft_dice(logits, target)
    if rc['rv_ce_weight'] != 1.0:
        weight = torch.ones(logits.shape[1], device=logits.device)
        weight[1] = rc['rv_ce_weight']
        ce = F.cross_entropy(logits, target, weight=weight)
    else:
        ce = F.cross_entropy(logits, target)
    lov = lovasz_softmax(logits, target)
    diag = F.cross_entropy(diag_logits, group)
    total = rc['w_dice'] * dice + rc['w_ce'] * ce + rc['w_lovasz'] * lov + rc['w_diag'] * diag
    parts = [('dice', dice), ('ce', ce), ('lovasz', lov), ('diag', diag)]
    if rc['w_rv_es_dice'] > 0:
        rv_es = rv_dice(logits, target, es) if es is not None else logits.sum() * 0
        total = total + rc['w_rv_es_dice'] * rv_es
        parts.append(('rv_es_dice', rv_es))
    # detached tensors, not floats: converting here would make the GPU wait every step (train.py converts when logging)
    return total, {k: v.detach() for k, v in parts}
