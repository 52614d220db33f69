"""PULSE-lite network: conv stem -> ViT-style token encoder with a global token -> 4-level pyramid
decoder -> background/RV/MYO/LV logits; the global token is the shared embedding that feeds diagnosis.

Sized for CPU: tokens live at 1/16 of the input (10 x 10 tokens for 160 x 160), the stem and the
decoder are narrow convolutions. Positions enter through a depthwise convolution on the token grid
(conditional positional encoding), so the network has no fixed input size.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=3, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class Block(nn.Module):
    """Pre-norm transformer block (explicit attention so the ONNX export is plain MatMul/Softmax)."""

    def __init__(self, dim, heads, mlp=2):
        super().__init__()
        self.heads = heads
        self.n1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * mlp), nn.GELU(), nn.Linear(dim * mlp, dim))

    def forward(self, x):
        n, t, d = x.shape
        h = self.heads
        q, k, v = self.qkv(self.n1(x)).reshape(n, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-2, -1) * (d // h) ** -0.5, dim=-1)
        x = x + self.proj((a @ v).transpose(1, 2).reshape(n, t, d))
        return x + self.mlp(self.n2(x))


class Up(nn.Module):
    """Pyramid step: upsample the coarser map, fuse with the skip, refine."""

    def __init__(self, cin, cskip, cout):
        super().__init__()
        self.fuse = conv_bn(cin + cskip, cout, k=1)
        self.refine = conv_bn(cout, cout)

    def forward(self, x, skip):
        x = F.interpolate(x, size=skip.shape[-2:], mode='bilinear', align_corners=False)
        return self.refine(self.fuse(torch.cat([x, skip], 1)))


class PulseLite(nn.Module):
    def __init__(self, in_ch=1, classes=4, groups=5, dim=128, depth=4, heads=4, feat=24):
        super().__init__()
        self.e0 = conv_bn(in_ch, 8)                                    # H
        self.e1 = nn.Sequential(conv_bn(8, 24, stride=2), conv_bn(24, 24))   # H/2
        self.e2 = nn.Sequential(conv_bn(24, 48, stride=2), conv_bn(48, 48))  # H/4
        self.e3 = conv_bn(48, 96, stride=2)                            # H/8
        self.patch = nn.Conv2d(96, dim, 3, 2, 1)                      # H/16 tokens
        self.pos = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)            # conditional positional encoding
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.d3 = Up(dim, 96, 64)     # H/8
        self.d2 = Up(64, 48, 48)      # H/4
        self.d1 = Up(48, 24, feat)    # H/2: per-pixel features (site calibration fits heads on them)
        self.head_half = nn.Conv2d(feat, classes, 1)
        self.head_full = nn.Conv2d(feat + 8, classes, 3, 1, 1)
        self.recon = nn.Conv2d(feat + 8, in_ch, 3, 1, 1)               # masked-token reconstruction (pre-training)
        self.diag = nn.Linear(dim, groups)                             # slice-level diagnosis from the global token
        nn.init.trunc_normal_(self.cls, std=0.02)

    def encode(self, x):
        s0 = self.e0(x)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        t = self.patch(s3)
        t = t + self.pos(t)
        n, d, h, w = t.shape
        tok = torch.cat([self.cls.expand(n, -1, -1), t.flatten(2).transpose(1, 2)], 1)
        for b in self.blocks:
            tok = b(tok)
        tok = self.norm(tok)
        glob = tok[:, 0]
        grid = tok[:, 1:].transpose(1, 2).reshape(n, d, h, w)
        return s0, s1, s2, s3, grid, glob

    def decode(self, s0, s1, s2, s3, grid):
        y = self.d3(grid, s3)
        y = self.d2(y, s2)
        feat = self.d1(y, s1)
        up = F.interpolate(feat, size=s0.shape[-2:], mode='bilinear', align_corners=False)
        full = torch.cat([up, s0], 1)
        return feat, full

    def forward(self, x):
        s0, s1, s2, s3, grid, glob = self.encode(x)
        feat, full = self.decode(s0, s1, s2, s3, grid)
        logits = F.interpolate(self.head_half(feat), size=x.shape[-2:], mode='bilinear', align_corners=False) + self.head_full(full)
        return logits, glob, feat, self.diag(glob)

    def reconstruct(self, x):
        s0, s1, s2, s3, grid, _ = self.encode(x)
        _, full = self.decode(s0, s1, s2, s3, grid)
        return self.recon(full)
