"""Tests of `d2l_utils.functional` against PyTorch's own softmax, cross-entropy and autograd.

The helpers are taught in chapters/softmax.ipynb and chapters/cross_entropy.ipynb.
"""
import pytest
import torch
import torch.nn.functional as F

from d2l_utils import (check_labels, check_logits, cross_entropy, cross_entropy_grad,
                       diff_bound, log_softmax, softmax)


def random_batch(n=16, q=10, scale=1.0, dtype=torch.float32, seed=0):
    """Logits of shape (n, q) drawn from N(0, scale^2) and labels in range."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, q, generator=generator, dtype=dtype) * scale
    labels = torch.randint(0, q, (n,), generator=generator)
    return logits, labels


def extreme_batch(n=16, q=10, dtype=torch.float32, seed=0):
    """Logits that are each +1e4 or -1e4, and labels in range."""
    generator = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, (n, q), generator=generator).to(dtype) * 2 - 1
    labels = torch.randint(0, q, (n,), generator=generator)
    return signs * 1e4, labels


BATCHES = {
    'normal(0, 1)': lambda dtype: random_batch(dtype=dtype),
    'normal(0, 100)': lambda dtype: random_batch(scale=100.0, dtype=dtype),
    'normal(0, 1e4)': lambda dtype: random_batch(scale=1e4, dtype=dtype),
    '±1e4': lambda dtype: extreme_batch(dtype=dtype),
}
TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}


@pytest.fixture(params=list(BATCHES), ids=list(BATCHES))
def batch_name(request):
    return request.param


@pytest.fixture(params=[torch.float32, torch.float64], ids=['float32', 'float64'])
def dtype(request):
    return request.param


# ---- agreement with PyTorch -------------------------------------------------------------

def test_softmax_matches_torch(batch_name, dtype):
    logits, _ = BATCHES[batch_name](dtype)
    result = softmax(logits)
    assert result.dtype == dtype and result.shape == logits.shape
    torch.testing.assert_close(result, torch.softmax(logits, dim=1),
                               rtol=0, atol=TOLERANCE[dtype])


def test_softmax_rows_are_distributions(batch_name, dtype):
    logits, _ = BATCHES[batch_name](dtype)
    result = softmax(logits)
    assert torch.isfinite(result).all() and (result >= 0).all()
    torch.testing.assert_close(result.sum(dim=1), torch.ones(len(logits), dtype=dtype))


def test_softmax_keeps_argmax_and_ignores_shift():
    logits, _ = random_batch(dtype=torch.float64)
    assert torch.equal(softmax(logits).argmax(dim=1), logits.argmax(dim=1))
    torch.testing.assert_close(softmax(logits + 1e3), softmax(logits), rtol=0, atol=1e-12)


def test_log_softmax_matches_torch(batch_name, dtype):
    logits, _ = BATCHES[batch_name](dtype)
    expected = torch.log_softmax(logits, dim=1)
    torch.testing.assert_close(log_softmax(logits), expected,
                               rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_cross_entropy_matches_torch(batch_name, dtype):
    logits, labels = BATCHES[batch_name](dtype)
    result = cross_entropy(logits, labels)
    expected = F.cross_entropy(logits, labels, reduction='none')
    assert result.shape == (len(labels),) and torch.isfinite(result).all()
    torch.testing.assert_close(result, expected, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_cross_entropy_of_a_known_extreme_case():
    # log(1 + e^200) is 200 up to 1e-87: the long way through probabilities gives inf.
    loss = cross_entropy(torch.tensor([[0.0, 200.0], [200.0, 0.0]]), torch.tensor([0, 0]))
    torch.testing.assert_close(loss, torch.tensor([200.0, 0.0]))


@pytest.mark.parametrize('label_dtype', [torch.int64, torch.int32, torch.int16,
                                         torch.int8, torch.uint8])
def test_cross_entropy_accepts_every_integer_label_dtype(label_dtype):
    logits, labels = random_batch()
    expected = F.cross_entropy(logits, labels, reduction='none')
    torch.testing.assert_close(cross_entropy(logits, labels.to(label_dtype)), expected)
    torch.testing.assert_close(cross_entropy_grad(logits, labels.to(label_dtype)),
                               cross_entropy_grad(logits, labels))


def test_empty_batch():
    logits, labels = torch.zeros(0, 10), torch.zeros(0, dtype=torch.int64)
    assert softmax(logits).shape == (0, 10)
    assert cross_entropy(logits, labels).shape == (0,)
    assert cross_entropy_grad(logits, labels).shape == (0, 10)


# ---- gradients --------------------------------------------------------------------------

def test_cross_entropy_grad_matches_autograd(batch_name, dtype):
    logits, labels = BATCHES[batch_name](dtype)
    reference = logits.clone().requires_grad_()
    F.cross_entropy(reference, labels, reduction='sum').backward()
    torch.testing.assert_close(cross_entropy_grad(logits, labels), reference.grad,
                               rtol=0, atol=TOLERANCE[dtype])


def test_autograd_through_the_helpers_matches_torch(batch_name, dtype):
    logits, labels = BATCHES[batch_name](dtype)
    ours, theirs = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    cross_entropy(ours, labels).sum().backward()
    F.cross_entropy(theirs, labels, reduction='sum').backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=TOLERANCE[dtype])


def test_cross_entropy_backward_scales_by_the_incoming_gradient():
    """A weighted sum of the losses (the mean, say) gets the weighted gradient."""
    logits, labels = random_batch(dtype=torch.float64)
    weights = torch.rand(len(labels), dtype=torch.float64)
    ours, theirs = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    (cross_entropy(ours, labels) * weights).sum().backward()
    (F.cross_entropy(theirs, labels, reduction='none') * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=1e-12)


def test_softmax_backward_matches_torch():
    logits, _ = random_batch(dtype=torch.float64)
    weights = torch.randn(logits.shape, dtype=torch.float64)
    ours, theirs = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    (softmax(ours) * weights).sum().backward()
    (torch.softmax(theirs, dim=1) * weights).sum().backward()
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=0, atol=1e-12)


def test_gradcheck():
    logits, labels = random_batch(n=4, q=5, scale=3.0, dtype=torch.float64)
    logits.requires_grad_()
    assert torch.autograd.gradcheck(softmax, (logits,))
    assert torch.autograd.gradcheck(log_softmax, (logits,))
    assert torch.autograd.gradcheck(lambda o: cross_entropy(o, labels), (logits,))
    assert torch.autograd.gradgradcheck(log_softmax, (logits,))


def test_cross_entropy_equals_torch_to_the_last_bit(batch_name, dtype):
    """Both pick the same entries of the same torch.log_softmax."""
    logits, labels = BATCHES[batch_name](dtype)
    assert torch.equal(cross_entropy(logits, labels),
                       F.cross_entropy(logits, labels, reduction='none'))


def test_cross_entropy_backward_is_the_derived_formula(dtype):
    """The gradient is exp(log_softmax) - one_hot, row i scaled by its weight."""
    logits, labels = random_batch(scale=3.0, dtype=dtype)
    weights = torch.rand(len(labels), dtype=dtype)
    ours = logits.clone().requires_grad_()
    (cross_entropy(ours, labels) * weights).sum().backward()
    one_hot = F.one_hot(labels, logits.shape[1]).to(dtype)
    expected = (torch.log_softmax(logits, dim=1).exp() - one_hot) * weights[:, None]
    torch.testing.assert_close(ours.grad, expected, rtol=0, atol=TOLERANCE[dtype])
    torch.testing.assert_close(ours.grad, cross_entropy_grad(logits, labels) * weights[:, None],
                               rtol=0, atol=TOLERANCE[dtype])


def test_cross_entropy_is_one_autograd_node():
    logits, labels = random_batch()
    loss = cross_entropy(logits.requires_grad_(), labels)
    assert loss.grad_fn.name() == 'CrossEntropyBackward'
    assert [node.name() for node, _ in loss.grad_fn.next_functions if node is not None] == [
        'torch::autograd::AccumulateGrad']


def test_cross_entropy_backward_of_an_empty_batch():
    logits = torch.zeros(0, 10, requires_grad=True)
    cross_entropy(logits, torch.zeros(0, dtype=torch.int64)).sum().backward()
    assert logits.grad.shape == (0, 10)


def test_cross_entropy_refuses_a_second_derivative():
    """Its backward is a formula, not a graph: a Hessian through it must fail, not be 0."""
    logits, labels = random_batch(n=2, q=4, scale=1.0, dtype=torch.float64)
    with pytest.raises(RuntimeError, match='no second derivative'):
        torch.autograd.functional.hessian(lambda o: cross_entropy(o, labels).sum(), logits)


def test_hessian_is_diag_p_minus_p_p_transposed():
    logits, labels = random_batch(n=1, q=6, scale=2.0, dtype=torch.float64)
    hessian = torch.autograd.functional.hessian(
        lambda o: -log_softmax(o[None])[0, labels].sum(), logits[0])
    p = softmax(logits)[0]
    torch.testing.assert_close(hessian, torch.diag(p) - torch.outer(p, p), rtol=0, atol=1e-12)


# ---- bad input: a clear TypeError or ValueError, never a silent broadcast ---------------

@pytest.mark.parametrize('function', [softmax, log_softmax, check_logits])
@pytest.mark.parametrize('bad, error, words', [
    (torch.tensor([1.0, 2.0, 3.0]), ValueError, ['(batch_size, num_classes)', '(3,)']),
    (torch.zeros(2, 1, 5), ValueError, ['(batch_size, num_classes)', '(2, 1, 5)']),
    (torch.zeros(4, 0), ValueError, ['at least one class', '(4, 0)']),
    (torch.tensor([[1, 2, 3]]), TypeError, ['floating-point', 'torch.int64']),
    (torch.tensor([[True, False]]), TypeError, ['floating-point', 'torch.bool']),
    ([[1.0, 2.0]], TypeError, ['torch.Tensor', 'list']),
], ids=['1-D', '3-D', 'no classes', 'int logits', 'bool logits', 'list'])
def test_bad_logits(function, bad, error, words):
    with pytest.raises(error) as info:
        function(bad)
    for word in ['expected'] + words:
        assert word in str(info.value)


@pytest.mark.parametrize('function', [cross_entropy, cross_entropy_grad, check_labels])
@pytest.mark.parametrize('labels, error, words', [
    (torch.tensor([0.0, 1.0, 2.0]), TypeError, ['integer class indices', 'torch.float32']),
    (torch.tensor([True, False, True]), TypeError, ['integer class indices', 'torch.bool']),
    ([0, 1, 2], TypeError, ['torch.Tensor', 'list']),
    (torch.tensor([[0], [1], [2]]), ValueError, ['shape (3,)', '(3, 1)']),
    (torch.tensor([0, 1]), ValueError, ['shape (3,)', '(2,)']),
    (torch.tensor([0, 1, 4]), ValueError, ['from 0 to 3', 'from 0 to 4']),
    (torch.tensor([-1, 1, 2]), ValueError, ['from 0 to 3', 'from -1 to 2']),
    (torch.tensor([0, 1, 9], dtype=torch.uint8), ValueError, ['from 0 to 3', 'from 0 to 9']),
    (torch.tensor([0, -2, 2], dtype=torch.int8), ValueError, ['from 0 to 3', 'from -2 to 2']),
], ids=['float', 'bool', 'list', 'column', 'too few', 'too large', 'negative', 'uint8 too large',
        'int8 negative'])
def test_bad_labels(function, labels, error, words):
    logits = torch.zeros(3, 4)
    with pytest.raises(error) as info:
        function(logits, labels)
    for word in ['expected'] + words:
        assert word in str(info.value)


@pytest.mark.parametrize('function', [cross_entropy, cross_entropy_grad, check_labels])
def test_labels_are_checked_against_bad_logits_too(function):
    with pytest.raises(ValueError, match='expected logits of shape'):
        function(torch.zeros(3), torch.tensor([0, 1, 2]))


# ---- diff_bound ---------------------------------------------------------------------------

@pytest.mark.parametrize('a, b, expected', [
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), '0'),
    (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.003]), '< 1e-2'),
    (torch.tensor([0.0], dtype=torch.float64), torch.tensor([3e-16], dtype=torch.float64),
     '< 1e-15'),
    (torch.tensor([1.0]), torch.tensor([5.0]), '< 1e1'),
    (torch.tensor([float('nan')]), torch.tensor([1.0]), 'nan'),
    (torch.tensor([float('inf')]), torch.tensor([1.0]), 'inf'),
    (torch.zeros(0), torch.zeros(0), '0'),
])
def test_diff_bound(a, b, expected):
    assert diff_bound(a, b) == expected


def test_diff_bound_is_an_upper_bound():
    generator = torch.Generator().manual_seed(0)
    for _ in range(100):
        a, b = torch.randn(2, 5, generator=generator, dtype=torch.float64)
        bound = float(diff_bound(a, b).removeprefix('< '))
        largest = (a - b).abs().max().item()
        assert largest < bound <= 10 * largest


def test_diff_bound_refuses_to_broadcast():
    with pytest.raises(ValueError, match=r'same shape, got shapes \(2, 3\) and \(3,\)'):
        diff_bound(torch.zeros(2, 3), torch.zeros(3))


def test_public_names():
    import d2l_utils.functional as functional
    assert {'check_labels', 'check_logits', 'cross_entropy', 'cross_entropy_grad',
            'diff_bound', 'log_softmax', 'softmax'} <= set(functional.__all__)
