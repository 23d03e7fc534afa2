"""Evaluation of generated images: feature networks (Inception, random, a classifier trained on the
run's data, TorchScript), cached real-image features, and the metrics computed from those features
(FID, KID, IS, precision/recall/density/coverage, class scores), each a `FeatureMetric`."""
from ganlab.metrics.class_scores import ClassScores, class_scores
from ganlab.metrics.classifier import ClassifierFeatures, SmallCNN
from ganlab.metrics.features import (Features, InceptionFeatures, RandomConvFeatures, TorchScriptFeatures,
                                     as_features, fingerprint)
from ganlab.metrics.fid import FID
from ganlab.metrics.inception_score import InceptionScore
from ganlab.metrics.kid import KID
from ganlab.metrics.manifold import PRDC
from ganlab.metrics.metric import FeatureMetric
from ganlab.metrics.real_features import cache_file, extract_features, load_or_compute

__all__ = [
    "ClassScores", "ClassifierFeatures", "FID", "FeatureMetric", "Features", "InceptionFeatures", "InceptionScore",
    "KID", "PRDC", "RandomConvFeatures", "SmallCNN", "TorchScriptFeatures", "as_features", "cache_file",
    "class_scores", "extract_features", "fingerprint", "load_or_compute",
]
