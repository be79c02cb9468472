"""The training helpers of d2l_utils, against torch's own optimizer and direct computation.

Covers accuracy, Accumulator, evaluate_accuracy, sgd, train_epoch, train and predict,
their bad-input errors, and a short training run on a tiny synthetic data set (the
Animator draws under the non-interactive Agg backend and displays nothing); and
tools/seed_spread.py, which repeats the training chapters' recipes, with its stored
results.
"""
import importlib.util
import itertools
import json
import math
from pathlib import Path

import matplotlib
import pytest
import torch
from torch import nn

matplotlib.use('Agg')
from matplotlib import pyplot as plt

from d2l_utils import (Accumulator, Animator, accuracy, evaluate_accuracy, predict, sgd,
                       train, train_epoch)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def blobs(n=240, num_classes=3, dim=4, seed=0):
    """A tiny, nearly separable classification problem: Gaussian blobs around class centers."""
    generator = torch.Generator().manual_seed(seed)
    centers = 3 * torch.randn(num_classes, dim, generator=generator)
    y = torch.arange(n) % num_classes
    X = centers[y] + 0.5 * torch.randn(n, dim, generator=generator)
    return X, y


def batches(X, y, batch_size):
    """A re-iterable list of minibatches, in a fixed order."""
    return list(zip(X.split(batch_size), y.split(batch_size)))


def per_example_loss(y_hat, y):
    return nn.functional.cross_entropy(y_hat, y, reduction='none')


# ---------------------------------------------------------------- accuracy

def test_accuracy_counts_argmax_matches():
    y_hat = torch.randn(50, 7, generator=torch.Generator().manual_seed(1))
    y = torch.randint(0, 7, (50,), generator=torch.Generator().manual_seed(2))
    expected = (y_hat.argmax(dim=1) == y).sum().item()
    assert accuracy(y_hat, y) == expected
    assert isinstance(accuracy(y_hat, y), float)


def test_accuracy_takes_predicted_classes_too():
    assert accuracy(torch.tensor([0, 2, 1]), torch.tensor([0, 1, 1])) == 2.0


@pytest.mark.parametrize('y_hat, y, error, message', [
    (torch.rand(5, 3), torch.tensor([0, 1, 2, 0]), ValueError,
     r'one prediction per label: got 4 labels of shape \(4,\) and predictions of shape \(5,\)'),
    (torch.tensor([[0], [1], [2]]), torch.tensor([0, 1, 2]), ValueError,
     r'predictions of shape \(3, 1\)'),  # would broadcast to a 3x3 comparison
    ([0, 1], torch.tensor([0, 1]), TypeError, 'expected two tensors, got list and Tensor'),
])
def test_accuracy_bad_input(y_hat, y, error, message):
    with pytest.raises(error, match=message):
        accuracy(y_hat, y)


# ---------------------------------------------------------------- Accumulator

def test_accumulator_sums_resets_and_indexes():
    metric = Accumulator(3)
    metric.add(1, 2.5, torch.tensor(3))
    metric.add(1, 0.5, 2)
    assert [metric[0], metric[1], metric[2]] == [2.0, 3.0, 5.0]
    assert all(isinstance(value, float) for value in metric.data)
    metric.reset()
    assert metric.data == [0.0, 0.0, 0.0]


@pytest.mark.parametrize('values', [(1, 2), (1, 2, 3, 4)])
def test_accumulator_add_needs_one_value_per_sum(values):
    metric = Accumulator(3)
    with pytest.raises(ValueError, match=f'expected 3 values, one per sum, got {len(values)}'):
        metric.add(*values)
    assert metric.data == [0.0, 0.0, 0.0]


@pytest.mark.parametrize('n', [0, -1, 2.0, True])
def test_accumulator_needs_a_positive_integer(n):
    with pytest.raises(ValueError, match=f'must be a positive integer, got {n!r}'):
        Accumulator(n)


# ---------------------------------------------------------------- evaluate_accuracy

def test_evaluate_accuracy_weighs_every_example_equally():
    X, y = blobs(n=50)
    net = nn.Linear(4, 3)
    expected = (net(X).argmax(dim=1) == y).float().mean().item()
    # batches of 16, 16, 16 and 2: a mean of batch means would be wrong
    assert evaluate_accuracy(net, batches(X, y, 16)) == pytest.approx(expected)


def test_evaluate_accuracy_sets_eval_mode_and_records_no_graph():
    X, y = blobs(n=20)
    seen = []

    class Probe(nn.Linear):
        def forward(self, X):
            out = super().forward(X)
            seen.append((self.training, out.requires_grad))
            return out

    net = Probe(4, 3)
    net.train()
    evaluate_accuracy(net, batches(X, y, 10))
    assert seen == [(False, False), (False, False)]


def test_evaluate_accuracy_of_nothing_is_an_error():
    with pytest.raises(ValueError, match='data_iter yielded no examples'):
        evaluate_accuracy(nn.Linear(4, 3), [])


# ---------------------------------------------------------------- sgd

def test_sgd_matches_torch_optim_and_clears_the_gradients():
    torch.manual_seed(0)
    W1 = torch.randn(4, 3, requires_grad=True)
    W2 = W1.detach().clone().requires_grad_()
    X, y = blobs(n=8)
    per_example_loss(X @ W1, y).sum().backward()  # summed loss, for sgd
    sgd([W1], lr=0.3, batch_size=8)
    optimizer = torch.optim.SGD([W2], lr=0.3)
    per_example_loss(X @ W2, y).mean().backward()  # mean loss, for torch.optim
    optimizer.step()
    torch.testing.assert_close(W1, W2)
    assert torch.equal(W1.grad, torch.zeros_like(W1))


# ---------------------------------------------------------------- train_epoch

def linear_params(seed=0, dim=4, num_classes=3):
    generator = torch.Generator().manual_seed(seed)
    W = torch.normal(0, 0.01, (dim, num_classes), generator=generator).requires_grad_()
    return W, torch.zeros(num_classes, requires_grad=True)


def test_train_epoch_optimizer_and_updater_take_the_same_steps():
    X, y = blobs()
    data = batches(X, y, 32)
    W1, b1 = linear_params()
    W2, b2 = linear_params()
    metrics1 = train_epoch(lambda X: X @ W1 + b1, data, per_example_loss,
                           torch.optim.SGD([W1, b1], lr=0.1))
    metrics2 = train_epoch(lambda X: X @ W2 + b2, data, per_example_loss,
                           lambda n: sgd([W2, b2], 0.1, n))
    torch.testing.assert_close(W1, W2)
    torch.testing.assert_close(b1, b2)
    assert metrics1 == pytest.approx(metrics2)


def test_train_epoch_returns_the_mean_loss_and_accuracy_of_the_epoch():
    X, y = blobs(n=100)
    data = batches(X, y, 32)  # batches of 32, 32, 32 and 4: every example counts once
    W, b = linear_params()
    V, c = W.detach().clone(), b.detach().clone()
    losses, correct = [], 0
    for Xb, yb in data:  # the same steps, written out
        V.requires_grad_()
        c.requires_grad_()
        out = Xb @ V + c
        losses.append(per_example_loss(out, yb).detach())
        correct += (out.argmax(dim=1) == yb).sum().item()
        per_example_loss(out, yb).sum().backward()
        V, c = (V - 0.1 * V.grad / len(yb)).detach(), (c - 0.1 * c.grad / len(yb)).detach()
    mean_loss, acc = train_epoch(lambda X: X @ W + b, data, per_example_loss,
                                 lambda n: sgd([W, b], 0.1, n))
    assert mean_loss == pytest.approx(torch.cat(losses).mean().item(), rel=1e-5)
    assert acc == correct / 100
    torch.testing.assert_close(W.detach(), V)


def test_train_epoch_accepts_a_loss_that_returns_the_mean():
    X, y = blobs()
    data = batches(X, y, 32)
    results = []
    for loss in (per_example_loss, nn.CrossEntropyLoss()):
        for make_updater in (lambda p: torch.optim.SGD(p, lr=0.1),
                             lambda p: (lambda n: sgd(p, 0.1, n))):
            W, b = linear_params()
            metrics = train_epoch(lambda X, W=W, b=b: X @ W + b, data, loss,
                                  make_updater([W, b]))
            results.append((metrics, W.detach().clone()))
    for metrics, W in results[1:]:
        assert metrics == pytest.approx(results[0][0], rel=1e-5)
        torch.testing.assert_close(W, results[0][1])


def test_train_epoch_sets_train_mode():
    net = nn.Linear(4, 3)
    net.eval()
    X, y = blobs(n=10)
    train_epoch(net, batches(X, y, 5), nn.CrossEntropyLoss(),
                torch.optim.SGD(net.parameters(), lr=0.1))
    assert net.training


@pytest.mark.parametrize('bad', [math.nan, math.inf])
def test_train_epoch_stops_at_the_first_non_finite_loss_before_updating(bad):
    X, y = blobs(n=96)
    W, b = linear_params()
    calls = itertools.count(1)

    def loss(y_hat, y):
        l = per_example_loss(y_hat, y)
        return l * bad if next(calls) == 2 else l

    W_after_one = {}

    def updater(n):
        sgd([W, b], 0.1, n)
        W_after_one.setdefault('W', W.detach().clone())

    with pytest.raises(FloatingPointError, match=f'the loss of batch 2 is {bad}'):
        train_epoch(lambda X: X @ W + b, batches(X, y, 32), loss, updater)
    assert torch.equal(W, W_after_one['W'])  # batch 2 did not update


def test_train_epoch_without_batches_is_an_error():
    W, b = linear_params()
    with pytest.raises(ValueError, match='train_iter yielded no batches'):
        train_epoch(lambda X: X @ W + b, [], per_example_loss, lambda n: sgd([W, b], 0.1, n))


# ---------------------------------------------------------------- train

def test_train_learns_a_tiny_problem_and_returns_the_history():
    X, y = blobs(n=300)
    train_data, val_data = batches(X[:240], y[:240], 16), batches(X[240:], y[240:], 16)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3))
    history = train(net, train_data, val_data, nn.CrossEntropyLoss(), 5,
                    torch.optim.SGD(net.parameters(), lr=0.1))
    assert set(history) == {'train_loss', 'train_acc', 'val_acc'}
    assert all(len(values) == 5 for values in history.values())
    assert history['train_loss'][-1] < min(0.3, history['train_loss'][0])
    assert history['train_acc'][-1] > 0.9 and history['val_acc'][-1] > 0.9
    assert history['val_acc'][-1] == evaluate_accuracy(net, val_data)
    assert plt.get_fignums() == []  # the Animator closed its figure


def test_train_fixes_the_y_axis_when_asked():
    X, y = blobs(n=60)
    W, b = linear_params()
    shown = []
    original = Animator.close

    def keep_limits(animator):
        shown.append(animator.axes[0].get_ylim())
        original(animator)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Animator, 'close', keep_limits)
        train(lambda X: X @ W + b, batches(X, y, 30), batches(X, y, 30),
              per_example_loss, 2, lambda n: sgd([W, b], 0.1, n), ylim=(0, 1.5))
    assert shown == [(0, 1.5)]


def test_train_judges_nothing():
    """A run far from the book's thresholds (loss < 0.5, accuracy > 0.7) still returns."""
    X, y = blobs(n=60)
    W, b = linear_params()
    history = train(lambda X: X @ W + b, batches(X, y, 30), batches(X, y, 30),
                    per_example_loss, 1, lambda n: sgd([W, b], 1e-6, n))
    assert history['train_loss'][-1] > 1.0 and history['val_acc'][-1] < 0.7


@pytest.mark.parametrize('num_epochs', [0, -3, 2.5, True, '10'])
def test_train_needs_a_positive_number_of_epochs(num_epochs):
    with pytest.raises(ValueError,
                       match=f'num_epochs must be a positive integer, got {num_epochs!r}'):
        train(nn.Linear(4, 3), [], [], nn.CrossEntropyLoss(), num_epochs, None)


def test_train_with_an_empty_iterator_is_an_error_and_closes_the_figure():
    net = nn.Linear(4, 3)
    with pytest.raises(ValueError, match='train_iter yielded no batches'):
        train(net, [], [], nn.CrossEntropyLoss(), 3, torch.optim.SGD(net.parameters(), lr=0.1))
    X, y = blobs(n=30)
    with pytest.raises(ValueError, match='data_iter yielded no examples'):
        train(net, batches(X, y, 10), [], nn.CrossEntropyLoss(), 3,
              torch.optim.SGD(net.parameters(), lr=0.1))
    assert plt.get_fignums() == []


def test_train_names_the_epoch_and_batch_of_a_non_finite_loss():
    X, y = blobs(n=90)
    W, b = linear_params()
    calls = itertools.count(1)

    def loss(y_hat, y):  # 3 batches per epoch: call 5 is epoch 2, batch 2
        l = per_example_loss(y_hat, y)
        return l * math.nan if next(calls) == 5 else l

    with pytest.raises(FloatingPointError,
                       match='training stopped in epoch 2: the loss of batch 2 is nan'):
        train(lambda X: X @ W + b, batches(X, y, 30), batches(X, y, 30), loss, 4,
              lambda n: sgd([W, b], 0.1, n))
    assert torch.isfinite(W).all()
    assert plt.get_fignums() == []


# ---------------------------------------------------------------- predict

def test_predict_titles_true_and_predicted_labels():
    X = torch.rand(10, 1, 28, 28)
    y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])

    class AlwaysBag(nn.Module):
        def forward(self, X):
            return nn.functional.one_hot(torch.full((len(X),), 8), 10).float()

    axes = predict(AlwaysBag(), [(X, y)], n=3)
    assert [ax.get_title() for ax in axes] == ['t-shirt\nbag', 'trouser\nbag', 'pullover\nbag']
    assert axes[0].images[0].get_array().shape == (28, 28)


@pytest.mark.parametrize('n', [0, 11, 2.0])
def test_predict_needs_n_within_the_batch(n):
    batch = (torch.rand(10, 1, 28, 28), torch.zeros(10, dtype=torch.int64))
    with pytest.raises(ValueError,
                       match=f'n must be an integer from 1 to the batch size 10, got {n!r}'):
        predict(nn.Flatten(), [batch], n=n)


def test_predict_on_an_empty_iterator_is_an_error():
    with pytest.raises(ValueError, match='test_iter yielded no batches'):
        predict(nn.Flatten(), [])


# ---------------------------------------------------------------- tools/seed_spread.py

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / 'chapters' / 'results'


def load_seed_spread():
    spec = importlib.util.spec_from_file_location('seed_spread',
                                                  REPO / 'tools' / 'seed_spread.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('chapter, epochs', [('scratch', 100), ('concise', 10)])
def test_stored_seed_spread_has_every_seed_and_epoch(chapter, epochs):
    """The chapters print these files: five seeds, a full history, the recipe."""
    report = json.loads((RESULTS / f'softmax_{chapter}_seeds.json').read_text())
    assert report['chapter'] == f'softmax_{chapter}'
    assert report['recipe'] == {'batch_size': 32, 'lr': 0.1, 'num_epochs': epochs,
                                'train_examples': 50000, 'val_examples': 10000,
                                'torch_threads': 1}
    assert [run['seed'] for run in report['runs']] == [0, 1, 2, 3, 4]
    for run in report['runs']:
        assert all(len(run[key]) == epochs for key in ('train_loss', 'train_acc', 'val_acc'))
        assert 0.7 < run['val_acc'][-1] < 0.9 and 0.7 < run['test_acc'] < 0.9
    assert report['seconds'] > 0 and report['cpu_seconds'] > 0


@pytest.mark.parametrize('chapter', ['scratch', 'concise'])
def test_seed_spread_repeats_a_run_exactly(chapter, tmp_path):
    """One epoch of a recipe, twice: the same numbers, which the chapters rely on."""
    seed_spread = load_seed_spread()
    reports = []
    for name in ('a.json', 'b.json'):
        assert seed_spread.main([chapter, '--seeds', '1', '--epochs', '1',
                                 '--out', str(tmp_path / name)]) == 0
        reports.append(json.loads((tmp_path / name).read_text()))
    runs = [report['runs'] for report in reports]
    assert runs[0] == runs[1]
    assert runs[0][0]['seed'] == 1 and 0.7 < runs[0][0]['val_acc'][0] < 0.9
    assert reports[0]['recipe']['num_epochs'] == 1
