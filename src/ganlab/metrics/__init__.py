"""Evaluation of generated images: feature networks (Inception, random, a classifier trained on the
run's data), cached real-image features, FID/KID/IS and class scores."""
from ganlab.metrics.class_scores import ClassTally
from ganlab.metrics.classifier import ClassifierFeatures, SmallCNN
from ganlab.metrics.features import (Features, InceptionFeatures, RandomConvFeatures, TorchScriptFeatures,
                                     as_features, fingerprint)
from ganlab.metrics.real_features import cache_file, extract_features, load_or_compute, share
from ganlab.metrics.scores import FeatureScores, score_names

__all__ = [
    "ClassTally", "ClassifierFeatures", "FeatureScores", "SmallCNN", "Features", "InceptionFeatures", "RandomConvFeatures", "TorchScriptFeatures", "as_features",
    "cache_file", "extract_features", "fingerprint", "load_or_compute", "score_names", "share",
]
