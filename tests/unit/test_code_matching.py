"""The code-to-class matching of InfoGAN's measurement (metrics/code_matching.py) on known counts,
and the callback that reads Q's code as a classifier of a test split and G's images as classified."""
import pytest
import torch
from torch import nn

from ganlab.callbacks.code_accuracy import CodeClassAccuracy
from ganlab.config_checks import ConfigError
from ganlab.latents import InfoGANLatent, UniformLatent
from ganlab.metrics.code_matching import best_matching, confusion_matrix, misread_classes
from ganlab.networks.output import CodePosterior, DOut


def test_confusion_matrix_counts_each_pair():
    codes = torch.tensor([0, 0, 1, 2, 2, 2])
    classes = torch.tensor([1, 1, 0, 2, 2, 0])
    assert confusion_matrix(codes, classes, 3, 3).tolist() == [[0, 2, 0], [1, 0, 0], [1, 0, 2]]


def test_a_relabelled_code_matches_perfectly():
    classes = torch.arange(10).repeat(7)
    codes = (classes * 3 + 1) % 10  # a permutation of the labels
    matching, accuracy = best_matching(confusion_matrix(codes, classes, 10, 10))
    assert accuracy == 1.0
    assert all(matching[(c * 3 + 1) % 10] == c for c in range(10))


def test_the_matching_is_one_to_one_where_greedy_would_not_be():
    # value 0 is mostly class 0 (5) but class 1 is only reachable through it or value 1's 4:
    # greedy (0->0 first) gives 5 + 1 = 6; the best one-to-one matching 0->1, 1->0 gives 4 + 4 = 8.
    confusion = torch.tensor([[5, 4], [4, 1]])
    matching, accuracy = best_matching(confusion)
    assert matching == {0: 1, 1: 0}
    assert accuracy == pytest.approx(8 / 14)


def test_two_codes_merging_one_class_leave_a_known_share():
    # 10 code values on 10 classes, 100 samples each; value 9 draws 4s as often as 9s (4 and 9 merged):
    # 50 of its 100 samples are 4s, which one-to-one matching cannot give to class 4 as well.
    codes = torch.arange(10).repeat_interleave(100)
    classes = codes.clone()
    classes[900:950] = 4
    _, accuracy = best_matching(confusion_matrix(codes, classes, 10, 10))
    assert accuracy == pytest.approx(950 / 1000)


def test_merged_classes_show_as_the_class_read_as_the_other():
    # 4 and 9 merged: 60% of the 4s get the 9s' code value; 20% of the 3s get the 5s'
    classes = torch.arange(10).repeat_interleave(100)
    codes = classes.clone()
    codes[400:460] = 9  # 60% of the 4s get the 9s' value
    codes[300:320] = 5  # 20% of the 3s get the 5s' value
    codes[800:803] = 1  # 3% of the 8s: below the threshold
    confusion = confusion_matrix(codes, classes, 10, 10)
    matching, _ = best_matching(confusion)
    assert matching == {v: v for v in range(10)}
    assert misread_classes(confusion, matching) == [(4, 9, pytest.approx(0.6)), (3, 5, pytest.approx(0.2))]
    assert misread_classes(confusion, matching, least=0.01)[-1] == (8, 1, pytest.approx(0.03))


def test_a_code_value_matched_to_no_class_reads_its_samples_as_none():
    confusion = torch.tensor([[3, 0], [0, 2], [0, 2]])  # value 2 is left without a class; half the 1s have it
    matching, _ = best_matching(confusion)
    assert misread_classes(confusion, matching) == [(1, None, 0.5)]


def test_more_code_values_than_classes_count_unmatched_values_as_wrong():
    confusion = torch.tensor([[3, 0], [0, 3], [1, 1]])  # value 2 has no class left
    _, accuracy = best_matching(confusion)
    assert accuracy == pytest.approx(6 / 8)


def test_an_empty_confusion_is_refused():
    with pytest.raises(ValueError, match="no samples"):
        best_matching(torch.zeros(3, 3))


# --- the callback's measurement, on a discriminator whose Q reads the class off the image --------
class ReadsBrightness(nn.Module):
    """Q's categorical logits: one-hot of round(mean pixel in [0, 1] * 9), then permuted: a 'code'
    that is the class up to relabelling when images encode their class in their brightness."""

    def __init__(self, permutation):
        super().__init__()
        self.permutation = torch.as_tensor(permutation)
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, y=None):
        level = ((x.mean(dim=(1, 2, 3)) + 1) / 2 * 9).round().long().clamp(0, 9)  # (n,)
        logits = nn.functional.one_hot(self.permutation[level], 10).float()
        return DOut(score=x.new_zeros(len(x)), codes=CodePosterior([logits], x.new_zeros(len(x), 0), None))


class Module:
    def __init__(self, discriminator):
        self.discriminator = discriminator
        self.device = torch.device("cpu")
        self.latent = InfoGANLatent(UniformLatent(3), categorical=[10], continuous=0)


def brightness_images(labels):
    """uint8 images whose mean pixel is label / 9 of the range."""
    values = (labels.float() / 9 * 255).round().to(torch.uint8)
    return values[:, None, None, None].expand(-1, 1, 4, 4).contiguous()


def test_q_as_a_classifier_of_the_test_split_known_accuracy():
    labels = torch.arange(10).repeat(20)  # 200 test images
    images = brightness_images(labels)
    permutation = [3, 7, 0, 9, 1, 5, 2, 8, 4, 6]
    callback = CodeClassAccuracy(batch_size=64)
    matching, accuracy = callback.test_accuracy(Module(ReadsBrightness(permutation)), images, labels, 10)
    assert accuracy == 1.0
    assert matching == {permutation[c]: c for c in range(10)}
    wrong = labels.clone()
    wrong[:30] = (wrong[:30] + 1) % 10  # 30 of 200 labels no longer what the image shows
    _, accuracy = callback.test_accuracy(Module(ReadsBrightness(permutation)), images, wrong, 10)
    assert accuracy == pytest.approx(170 / 200)


def test_the_log_names_the_classes_the_code_misreads():
    from ganlab.callbacks.code_accuracy import misread

    classes = torch.arange(10).repeat_interleave(10)
    codes = classes.clone()
    codes[40:45] = 9  # half the 4s read as 9
    confusion = confusion_matrix(codes, classes, 10, 10)
    assert misread(confusion, best_matching(confusion)[0]) == "; misread: 4 as 9 (50%)"
    for c in range(4):
        codes[10 * c:10 * c + 5] = 9  # half the 0s, 1s, 2s and 3s too: 5 misread classes, the log names 3
    confusion = confusion_matrix(codes, classes, 10, 10)
    assert misread(confusion, best_matching(confusion)[0]).count(" as ") == 3
    perfect = confusion_matrix(classes, classes, 10, 10)
    assert misread(perfect, best_matching(perfect)[0]) == ""


def test_the_discriminator_is_read_in_eval_mode_and_left_as_it_was():
    seen = []

    class Recording(ReadsBrightness):
        def forward(self, x, y=None):
            seen.append(self.training)
            return super().forward(x, y)

    d = Recording(list(range(10))).train()
    CodeClassAccuracy().test_accuracy(Module(d), brightness_images(torch.arange(10)), torch.arange(10), 10)
    assert seen == [False] and d.training


@pytest.mark.parametrize("kwargs, message", [({"every_n": 0}, "every_n must be a positive integer, got 0"),
                                             ({"per_code": -1}, "per_code must be a positive integer, got -1"),
                                             ({"code": -1}, "code must be an integer >= 0, got -1")])
def test_bad_settings_name_their_key(kwargs, message):
    """The argument's name; the config key is added where Hydra builds it (test_config_checks)."""
    with pytest.raises(ConfigError) as error:
        CodeClassAccuracy(**kwargs)
    assert str(error.value) == message


def test_a_run_without_infogan_codes_or_a_test_split_is_refused_at_fit_start():
    from types import SimpleNamespace

    from ganlab.latents import GaussianLatent

    module = Module(ReadsBrightness(list(range(10))))
    with_test = SimpleNamespace(datamodule=SimpleNamespace(name="mnist", test_split=lambda: (None, None)))
    without_test = SimpleNamespace(datamodule=SimpleNamespace(name="digits", test_split=lambda: None))
    CodeClassAccuracy().on_fit_start(with_test, module)  # InfoGAN codes and a test split: accepted
    with pytest.raises(ConfigError, match="test split"):
        CodeClassAccuracy().on_fit_start(without_test, module)
    with pytest.raises(ConfigError, match="categorical code 1"):
        CodeClassAccuracy(code=1).on_fit_start(with_test, module)
    module.latent = GaussianLatent(4)
    with pytest.raises(ConfigError, match="latent=infogan"):
        CodeClassAccuracy().on_fit_start(with_test, module)
