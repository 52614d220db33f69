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
    """Berman et al. 2018, over the batch, classes present in the batch."""
    p = logits.softmax(1).permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    t = target.reshape(-1)
    losses = []
    for c in range(1, p.shape[1]):
        fg = (t == c).float()
        if fg.sum() == 0:
            continue
        err = (fg - p[:, c]).abs()
        err_sorted, perm = torch.sort(err, descending=True)
        losses.append(torch.dot(err_sorted, _lovasz_grad(fg[perm])))
    return torch.stack(losses).mean() if losses else logits.sum() * 0


def rv_dice(logits, target, eps=1.0):
    """1 - soft Dice of the RV cavity (label 1) alone, pooled over the given items."""
    p = logits.softmax(1)[:, 1]
    t = (target == 1).float()
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
        rv_es = rv_dice(logits[es], target[es]) if es is not None and bool(es.any()) else logits.sum() * 0
        total = total + rc['w_rv_es_dice'] * rv_es
        parts.append(('rv_es_dice', rv_es))
    return total, {k: float(v.detach()) for k, v in parts}
