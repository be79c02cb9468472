"""The calibration helpers of d2l_utils: hand-computed cases, synthetic truths, bad input.

`check_probabilities`, `calibration_bins`, `expected_calibration_error`,
`reliability_diagram` and `fit_temperature` are taught in chapters/linear_limits.ipynb.
Figures are drawn under the non-interactive Agg backend.
"""
import math

import matplotlib
import pytest
import torch

matplotlib.use('Agg')
from matplotlib import pyplot as plt

from d2l_utils import (calibration_bins, check_probabilities, expected_calibration_error,
                       fit_temperature, reliability_diagram)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


# Four predictions for two classes: confidences 0.9, 0.55, 0.7 and 0.75, the second wrong.
PROBS = torch.tensor([[0.9, 0.1], [0.55, 0.45], [0.3, 0.7], [0.25, 0.75]])
LABELS = torch.tensor([0, 1, 1, 1])


def calibrated_sample(n=100_000, q=10, scale=3.0, temperature=1.0, seed=0):
    """Logits, and labels drawn from softmax(logits / temperature)."""
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, q, generator=generator, dtype=torch.float64)
    probs = torch.softmax(logits / temperature, dim=1)
    labels = torch.multinomial(probs, 1, generator=generator).view(-1)
    return logits, labels


# ---------------------------------------------------------------- bins and ECE

def test_bins_by_hand():
    counts, confidence, accuracy = calibration_bins(PROBS, LABELS, num_bins=5)
    assert counts.tolist() == [0, 0, 1, 2, 1]
    assert torch.allclose(confidence, torch.tensor([0, 0, 0.55, 0.725, 0.9],
                                                   dtype=torch.float64))
    assert accuracy.tolist() == [0, 0, 0, 1, 1]


def test_ece_by_hand():
    # Two bins: all four in (0.5, 1], confidence 0.725 against accuracy 0.75.
    assert expected_calibration_error(PROBS, LABELS, num_bins=2) == pytest.approx(0.025)
    # Five bins: (0.1 + 0.55 + 2 * 0.275) / 4.
    assert expected_calibration_error(PROBS, LABELS, num_bins=5) == pytest.approx(0.3)


def test_one_bin_compares_the_means():
    """With one bin the ECE is |accuracy - mean confidence|."""
    mean_confidence = (0.9 + 0.55 + 0.7 + 0.75) / 4
    assert expected_calibration_error(PROBS, LABELS, num_bins=1) == pytest.approx(
        abs(0.75 - mean_confidence))


def test_bins_are_closed_on_the_right():
    probs = torch.tensor([[0.5, 0.5], [0.75, 0.25], [1.0, 0.0]], dtype=torch.float64)
    counts, _, _ = calibration_bins(probs, torch.tensor([0, 0, 0]), num_bins=4)
    assert counts.tolist() == [0, 1, 1, 1]  # 0.5 in (0.25, 0.5], 0.75 in (0.5, 0.75]


def test_counts_add_up_and_weights_sum_to_one():
    logits, labels = calibrated_sample(n=5000)
    counts, confidence, accuracy = calibration_bins(torch.softmax(logits, 1), labels, 15)
    assert counts.sum() == 5000 and len(counts) == 15
    full = counts > 0
    edges = torch.linspace(0, 1, 16, dtype=torch.float64)
    assert ((confidence[full] > edges[:-1][full])
            & (confidence[full] <= edges[1:][full])).all()
    assert ((accuracy >= 0) & (accuracy <= 1)).all()


def test_ece_of_a_calibrated_predictor_is_near_zero():
    logits, labels = calibrated_sample()
    assert expected_calibration_error(torch.softmax(logits, 1), labels) < 0.01


def test_ece_sees_overconfidence():
    logits, labels = calibrated_sample(temperature=2.0)
    assert expected_calibration_error(torch.softmax(logits, 1), labels) > 0.1


def test_ece_of_always_right_and_certain_is_zero():
    probs = torch.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error(probs, torch.tensor([0, 1, 2, 1])) == 0.0


def test_ece_accepts_float32_and_int32():
    assert expected_calibration_error(PROBS.float(), LABELS.int(), 2) == pytest.approx(0.025)


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize('probs, labels, error, message', [
    ([[0.5, 0.5]], torch.tensor([0]), TypeError, 'as tensors'),
    (PROBS, [0, 1, 1, 1], TypeError, 'as tensors'),
    (torch.tensor([[1, 0]]), torch.tensor([0]), TypeError, 'floating-point'),
    (torch.tensor([0.5, 0.5]), torch.tensor([0]), ValueError, r'shape \(n, num_classes\)'),
    (torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), ValueError, 'at least one'),
    (torch.zeros(2, 0), torch.tensor([0, 0]), ValueError, 'at least one'),
    (torch.tensor([[2.0, -1.0]]), torch.tensor([0]), ValueError, r'in \[0, 1\]'),
    (torch.tensor([[float('nan'), 1.0]]), torch.tensor([0]), ValueError, r'in \[0, 1\]'),
    (torch.tensor([[0.2, 0.2]]), torch.tensor([0]), ValueError, 'sum to 1'),
    (PROBS, LABELS.float(), TypeError, 'integer class labels'),
    (PROBS, LABELS.bool(), TypeError, 'integer class labels'),
    (PROBS, LABELS[:3], ValueError, r'shape \(4,\)'),
    (PROBS, LABELS.view(4, 1), ValueError, r'shape \(4,\)'),
    (PROBS, torch.tensor([0, 1, 2, 1]), ValueError, 'from 0 to 1'),
    (PROBS, torch.tensor([0, -1, 1, 1]), ValueError, 'from 0 to 1'),
])
def test_bad_probabilities_or_labels(probs, labels, error, message):
    with pytest.raises(error, match=message):
        check_probabilities(probs, labels)
    with pytest.raises(error, match=message):
        expected_calibration_error(probs, labels)


@pytest.mark.parametrize('num_bins', [0, -3, 2.5, True, '15', None])
def test_bad_num_bins(num_bins):
    with pytest.raises(ValueError, match='num_bins must be a positive integer'):
        calibration_bins(PROBS, LABELS, num_bins)
    with pytest.raises(ValueError, match='num_bins'):
        reliability_diagram(PROBS, LABELS, num_bins)


# ---------------------------------------------------------------- reliability diagram

def test_reliability_diagram_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert reliability_diagram(PROBS, LABELS, num_bins=5, ax=ax) is ax
    assert len(ax.patches) == 2 * 5 + 1  # accuracy and gap bars, the steps
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    assert ax.get_xlabel() == 'confidence' and ax.get_ylabel() == 'accuracy'
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ['fraction of examples', 'perfect calibration', 'accuracy',
                      'gap to confidence']


def test_reliability_diagram_bar_heights():
    ax = reliability_diagram(PROBS, LABELS, num_bins=5)
    accuracy_bars, gap_bars = ax.patches[:5], ax.patches[5:10]
    assert [bar.get_height() for bar in accuracy_bars] == pytest.approx([0, 0, 0, 1, 1])
    assert [bar.get_height() for bar in gap_bars] == pytest.approx(
        [0, 0, 0.55, 0.725 - 1, 0.9 - 1])


def test_reliability_diagram_makes_its_own_axes():
    ax = reliability_diagram(PROBS, LABELS)
    assert ax.figure is not None and len(ax.patches) == 2 * 15 + 1


# ---------------------------------------------------------------- temperature

@pytest.mark.parametrize('temperature', [0.5, 1.0, 2.0])
def test_fit_temperature_recovers_a_known_temperature(temperature):
    logits, labels = calibrated_sample(n=50_000, temperature=temperature)
    assert fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.03)


def test_fit_temperature_minimizes_the_nll():
    logits, labels = calibrated_sample(n=5000, temperature=1.5, seed=1)
    T = fit_temperature(logits, labels)

    def nll(t):
        return torch.nn.functional.cross_entropy(logits / t, labels).item()

    assert nll(T) <= min(nll(T * 0.99), nll(T * 1.01))
    assert nll(T) < nll(1.0)


def test_fit_temperature_is_deterministic_and_scales_with_the_logits():
    logits, labels = calibrated_sample(n=5000, seed=2)
    T = fit_temperature(logits, labels)
    assert fit_temperature(logits, labels) == T
    assert fit_temperature(3 * logits, labels) == pytest.approx(3 * T, rel=1e-9)
    assert fit_temperature(logits.float(), labels) == pytest.approx(T, rel=1e-5)


def test_fit_temperature_returns_a_positive_float():
    T = fit_temperature(torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]]),
                        torch.tensor([0, 0, 0]))
    assert isinstance(T, float) and T > 0 and math.isfinite(T)


def test_fit_temperature_keeps_the_logits_untouched():
    logits, labels = calibrated_sample(n=100)
    before = logits.clone()
    fit_temperature(logits.requires_grad_(), labels)
    assert torch.equal(logits.detach(), before)


@pytest.mark.parametrize('logits, labels, message', [
    (torch.zeros(3, 4), torch.tensor([0, 1, 2]), 'no higher than the average'),
    (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 1]),
     'no higher than the average'),
    (torch.tensor([[5.0, 0.0], [0.0, 5.0]]), torch.tensor([0, 1]), 'keeps falling'),
    (torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), 'at least one example'),
    (torch.zeros(2, 3), torch.tensor([0, 3]), 'from 0 to 2'),
    (torch.zeros(2, 3), torch.tensor([0]), r'shape \(2,\)'),
    (torch.tensor([[float('inf'), 0.0], [0.0, 1.0]]), torch.tensor([0, 1]), 'finite'),
    (torch.tensor([[float('nan'), 0.0]]), torch.tensor([1]), 'finite'),
])
def test_fit_temperature_bad_input(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        fit_temperature(logits, labels)


@pytest.mark.parametrize('logits, labels', [
    ([[1.0, 0.0]], torch.tensor([0])),
    (torch.tensor([[1, 0]]), torch.tensor([0])),
    (torch.tensor([[1.0, 0.0]]), torch.tensor([0.0])),
])
def test_fit_temperature_bad_types(logits, labels):
    with pytest.raises(TypeError):
        fit_temperature(logits, labels)
