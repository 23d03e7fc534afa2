"""Generators G(z, y=None) -> (N, C, H, W) in [-1, 1] and discriminators D(x, y=None) -> DOut,
one architecture family per file, each built for the data's image shape."""
from ganlab.networks.autoencoder import AutoencoderDiscriminator
from ganlab.networks.dcgan import DCGANAutoencoder, DCGANDiscriminator, DCGANGenerator
from ganlab.networks.layers import instance_norm, layer_norm
from ganlab.networks.mlp import MLPAutoencoder, MLPDiscriminator, MLPGenerator
from ganlab.networks.output import DOut, Generator
from ganlab.networks.resnet import ResNetAutoencoder, ResNetDiscriminator, ResNetGenerator

__all__ = [
    "AutoencoderDiscriminator",
    "DCGANAutoencoder",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DOut",
    "Generator",
    "MLPAutoencoder",
    "MLPDiscriminator",
    "MLPGenerator",
    "ResNetAutoencoder",
    "ResNetDiscriminator",
    "ResNetGenerator",
    "instance_norm",
    "layer_norm",
]
