"""Visual encoders written in torch (there is no CPU torchvision here), shared by LLaRP and the LSTM baselines.

Every encoder maps uint8 images (B, H, W, 3) to features (B, out_dim). ``make_visual_encoder``
builds one by name: ``"cnn"`` (small, trainable, the default), ``"resnet18"`` (trainable, as
in the paper's Atari variant), or any ``nn.Module`` you pass, which is frozen (the paper
uses a frozen pretrained VC-1 ViT; bring your own with :class:`FrozenEncoder`).
"""
from __future__ import annotations

import torch
from torch import nn


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]; channel-first input is accepted too."""
    if images.shape[-1] == 3:
        images = images.permute(0, 3, 1, 2)
    return images.float() / 255.0


class SmallCNN(nn.Module):
    """Four strided convolutions and global pooling: cheap enough for CPU RL at 64-256 px."""

    def __init__(self, out_dim: int = 512, width: int = 32) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(4 * width * 16, out_dim), nn.ReLU(),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(_to_float(images))


def _norm(channels: int) -> nn.Module:
    """Group normalisation (groups of 16 channels): unlike batch norm it gives a frame the same features
    in a rollout (one step of N envs) and in the update pass (a minibatch), so PPO's ratios stay exact;
    RL ResNets (Wijmans et al. 2020, DD-PPO) use it for the same reason."""
    return nn.GroupNorm(channels // 16, channels)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = _norm(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.down is None else self.down(x)))


class ResNet18(nn.Module):
    """The ResNet-18 architecture (He et al. 2016): 4 stages of 2 basic blocks, 64-512 channels, with
    group normalisation in place of batch normalisation (see ``_norm``)."""

    def __init__(self, out_dim: int = 512) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), _norm(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [_BasicBlock(cin, cout, stride), _BasicBlock(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Identity() if out_dim == 512 else nn.Linear(512, out_dim))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(_to_float(images))))


class FrozenEncoder(nn.Module):
    """Wrap a user's pretrained image encoder (uint8 (B, H, W, 3) -> (B, out_dim)) and freeze it."""

    def __init__(self, encoder: nn.Module, out_dim: int) -> None:
        super().__init__()
        self.encoder = encoder.eval()
        self.out_dim = out_dim
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "FrozenEncoder":
        super().train(mode)
        self.encoder.eval()  # batch-norm statistics and dropout stay as pretrained
        return self

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)


def make_visual_encoder(spec: str | nn.Module = "cnn", out_dim: int = 512) -> nn.Module:
    if isinstance(spec, nn.Module):
        return spec if isinstance(spec, FrozenEncoder) else FrozenEncoder(spec, out_dim)
    if spec == "cnn":
        return SmallCNN(out_dim)
    if spec == "resnet18":
        return ResNet18(out_dim)
    raise ValueError(f"visual encoder must be 'cnn', 'resnet18' or an nn.Module, got {spec!r}")
