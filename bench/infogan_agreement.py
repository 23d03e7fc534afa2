"""How well an InfoGAN's categorical code captures the digit class on MNIST (Chen et al. 2016,
sec. 7.1: a 10-way code that matches the classes, 5% error): for each value of the code, images
from random noise (and random other codes) are classified by a small CNN trained here on MNIST's
training split (its accuracy on the 10k test images is reported first); the 10 x 10 confusion
matrix of code value against predicted class is matched one-to-one (Hungarian matching,
ganlab.metrics.code_matching), and the agreement is the share of images whose class is the one matched to
their code. 10% is chance; 100% means the code is the class, up to a relabelling.

    python bench/infogan_agreement.py --ckpt outputs/runs/<run>/checkpoints/last.ckpt \
        --data-root /work/shared/data --per-code 500
"""
from __future__ import annotations

import argparse

import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from ganlab.checkpoints import RUN_KEY, load_checkpoint
from ganlab.data import MNISTDataModule
from ganlab.latents import Codes
from ganlab.metrics.classifier import SmallCNN, train_classifier
from ganlab.metrics.code_matching import best_matching, confusion_matrix
from ganlab.metrics.features import to_unit_range
from ganlab.sample import load_generator
from ganlab.sampling import generate_from_noise, quantize


@torch.no_grad()
def predict(net: torch.nn.Module, images_uint8: torch.Tensor) -> torch.Tensor:
    return torch.cat([net(to_unit_range(x))[1].argmax(1) for x in images_uint8.split(1000)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, help="an InfoGAN checkpoint (latent=infogan) trained on MNIST")
    parser.add_argument("--data-root", required=True, help="the directory holding MNIST/raw (with the t10k files)")
    parser.add_argument("--code", type=int, default=0, help="which categorical code (latent.categorical[i])")
    parser.add_argument("--per-code", type=int, default=500, help="images per value of the code")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = MNISTDataModule(root=args.data_root, num_workers=0)
    dataset = data.train_dataset
    x, y = dataset.__getitems__(list(range(len(dataset))))  # (60000, 1, 28, 28) in [-1, 1], (60000,)
    test = data.test_split()
    if test is None:
        raise SystemExit(f"error: MNIST's test split (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) is not in "
                         f"{data.raw_dir}: it checks the classifier")
    torch.manual_seed(args.seed)
    net = train_classifier(SmallCNN(1, 10), quantize(x), y, epochs=args.epochs, batch_size=128, lr=2e-3,
                           seed=args.seed, device=torch.device("cpu"))
    accuracy = (predict(net, test[0]) == test[1]).float().mean().item()
    print(f"classifier accuracy on MNIST's 10k test images: {accuracy:.4f}")

    config = OmegaConf.create(load_checkpoint(args.ckpt)[RUN_KEY]["config"])
    latent = instantiate(config.latent)
    k = latent.categorical[args.code]
    generator = load_generator(args.ckpt, "cpu")
    sample = latent.sample(k * args.per_code, generator=torch.Generator().manual_seed(args.seed))
    values = torch.arange(k).repeat_interleave(args.per_code)  # (n,)
    categorical = sample.codes.categorical.clone()
    categorical[:, args.code] = values
    z = latent.compose(sample.z[:, :latent.noise.input_dim], Codes(categorical, sample.codes.continuous))
    classes = predict(net, quantize(generate_from_noise(generator, z)))
    confusion = confusion_matrix(values, classes, k, 10)
    matched, agreement = best_matching(confusion)
    print("code value -> matched class (share of its images classified so):")
    for value, cls in matched.items():
        print(f"  {value} -> {cls} ({confusion[value, cls].item() / args.per_code:.3f})")
    print(f"code-class agreement (best one-to-one matching): {agreement:.4f} over {len(values)} images")
    print("confusion (rows: code values, columns: predicted classes):")
    print(confusion.long().numpy())


if __name__ == "__main__":
    main()
