"""How often a conditional generator draws the class it is asked for, judged by a classifier
trained here on the real data (the share a good conditional GAN on MNIST gets is above 90%).

    python bench/conditional_accuracy.py --ckpt outputs/runs/<run>/checkpoints/last.ckpt \
        --data-root ../shared/data --per-class 500

Trains a small convolutional classifier on MNIST's first 50k training images (reports its accuracy
on the other 10k), then generates `--per-class` images of each class from the checkpoint (EMA
weights when it has them) and prints the share classified as the requested class, per class and in
total.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from ganlab.data import MNISTDataModule
from ganlab.sample import load_generator
from ganlab.sampling import generate


def classifier() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (n, 32, 14, 14)
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # (n, 64, 7, 7)
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))


def train_classifier(images: torch.Tensor, labels: torch.Tensor, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(images)).split(128):
            opt.zero_grad()
            F.cross_entropy(net(images[idx]), labels[idx]).backward()
            opt.step()
    return net.eval()


@torch.no_grad()
def accuracy(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(n,) bool: classified as the label."""
    return torch.cat([net(x).argmax(1) == y for x, y in zip(images.split(1000), labels.split(1000))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="a conditional ganlab checkpoint trained on MNIST")
    parser.add_argument("--data-root", required=True, help="the directory holding MNIST/raw")
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = MNISTDataModule(root=args.data_root, num_workers=0)
    dataset = data.train_dataset  # images held in memory: one indexing call returns them all
    x, y = dataset.__getitems__(list(range(len(dataset))))  # (60000, 1, 28, 28) in [-1, 1], (60000,)
    net = train_classifier(x[:50_000], y[:50_000], args.epochs, args.seed)
    held_out = accuracy(net, x[50_000:], y[50_000:]).float().mean().item()
    print(f"classifier accuracy on 10k held-out real MNIST images: {held_out:.4f}")

    generator = load_generator(args.ckpt, "cpu")
    if not generator.conditional:
        raise SystemExit("error: this checkpoint's generator is unconditional (trained with conditioning=none)")
    requested = torch.arange(10).repeat_interleave(args.per_class)
    fake = generate(generator, len(requested), seed=args.seed, labels=requested)  # (n, 1, 28, 28) in [-1, 1]
    hits = accuracy(net, fake, requested)
    for c in range(10):
        print(f"class {c}: {hits[requested == c].float().mean().item():.3f}")
    print(f"generated images classified as the requested class: {hits.float().mean().item():.4f} "
          f"({int(hits.sum())}/{len(hits)})")


if __name__ == "__main__":
    main()
