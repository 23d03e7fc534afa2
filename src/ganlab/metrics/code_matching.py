"""How well a categorical code matches the classes of the data, up to a relabelling (InfoGAN,
Chen et al. 2016, sec. 7.1: the 10-way code as a classifier of MNIST digits, 5% error): count how
often each code value meets each class (a confusion matrix), match code values to classes one to
one so that the matched counts are largest (the Hungarian method, scipy's linear_sum_assignment),
and report the share of samples whose class is the one matched to their code value. With K values
and C classes the matching pairs min(K, C) of them; samples of unmatched values count as wrong.
"""
from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def confusion_matrix(codes: Tensor, classes: Tensor, num_codes: int, num_classes: int) -> Tensor:
    """(num_codes, num_classes) counts: entry (v, c) is how many samples have code value v and class c."""
    if codes.shape != classes.shape or codes.dim() != 1:
        raise ValueError(f"codes and classes must be two vectors of one length, got {tuple(codes.shape)} "
                         f"and {tuple(classes.shape)}")
    index = codes.long().cpu() * num_classes + classes.long().cpu()
    return torch.bincount(index, minlength=num_codes * num_classes).view(num_codes, num_classes)


def best_matching(confusion: Tensor) -> tuple[dict[int, int], float]:
    """({code value: its matched class}, the share of samples whose class is their value's match)."""
    total = confusion.sum().item()
    if total == 0:
        raise ValueError("best_matching: the confusion matrix counts no samples")
    values, classes = linear_sum_assignment(confusion.double().numpy(), maximize=True)
    matched = confusion[torch.as_tensor(values), torch.as_tensor(classes)].sum().item()
    return {int(v): int(c) for v, c in zip(values, classes)}, matched / total


def misread_classes(confusion: Tensor, matching: dict[int, int], least: float = 0.05) -> list[tuple[int, int | None, float]]:
    """Where the matched code puts a class's samples in another class: (class, the class its samples
    are read as (None: a code value matched to no class), the share of the class's samples read so),
    for every pair with at least `least` of the class's samples, the largest share first. Two classes
    that one code value covers (MNIST's 4 and 9) show as the class left without a value of its own
    read as the other."""
    read_as = [matching.get(value) for value in range(confusion.shape[0])]
    pairs = []
    for true_class in range(confusion.shape[1]):
        total = confusion[:, true_class].sum().item()
        counts: dict[int | None, int] = {}
        for value, matched in enumerate(read_as):
            if matched != true_class:
                counts[matched] = counts.get(matched, 0) + int(confusion[value, true_class])
        pairs += [(true_class, other, count / total) for other, count in counts.items()
                  if total and count / total >= least]
    return sorted(pairs, key=lambda pair: -pair[2])
