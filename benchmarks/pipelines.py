"""The training pipelines the benchmark compares, on one recipe, and the step-time ratio.

Every pipeline trains the from-scratch softmax regression of the book (W 784x10 drawn
from N(0, 0.01) after `torch.manual_seed(INIT_SEED)`, b zeros, logits
X.reshape(X.shape[0], -1) @ W + b, the book's logits-based `cross_entropy`) with minibatch SGD
at batch 32 and lr 0.1:

- `standard`: the usual DataLoader recipe of the d2l book's release 0.17: torchvision's
  FashionMNIST with ToTensor through DataLoader (shuffle=True, num_workers=4 for
  training, shuffle=False for evaluation), driven by that release's training loop (a
  float per batch, a Python accumulator) and its `evaluate_accuracy` and `sgd`;
- `book`: `d2l_utils.load_data_fashion_mnist` (uint8 images, converted per batch)
  driven by the book's own `train_epoch` and `evaluate_accuracy`, with its `sgd`;
- `floor`: the same model steps (forward, loss, backward, update; forward and argmax
  for evaluation) over batches already materialized in Python lists: no data path and
  no per-batch bookkeeping, the cost of the autograd steps alone;
- `hand_gradient`: the book's loader and `evaluate_accuracy`, training with the
  hand-derived gradient softmax(o) - one_hot(y) and no autograd.

`run(name, epochs, warmup, limit)` trains one pipeline and returns its per-epoch times.
`step_times(batches, repeats)` times the book's training step with its `cross_entropy`
and with `F.cross_entropy`, interleaved. Each is meant to run in its own process (see
bench.py), so that its peak memory is its own.
"""
import resource
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils import data

import d2l_utils
from harness import PIPELINES

BATCH_SIZE, LR, INIT_SEED = 32, 0.1, 0
NUM_INPUTS, NUM_OUTPUTS = 784, 10


def make_model(requires_grad=True):
    """Return `(net, params)`: the from-scratch model, W drawn after INIT_SEED."""
    torch.manual_seed(INIT_SEED)
    W = torch.normal(0, 0.01, size=(NUM_INPUTS, NUM_OUTPUTS), requires_grad=requires_grad)
    b = torch.zeros(NUM_OUTPUTS, requires_grad=requires_grad)

    def net(X):
        return X.reshape(X.shape[0], -1) @ W + b
    return net, [W, b]


def _trim(loader, limit):
    """Return an InMemoryLoader over the first `limit` examples of `loader`.

    Keeps the loader's transform: the images stay uint8 and each batch is
    converted as it is served, as in the book.
    """
    if limit is None:
        return loader
    return d2l_utils.InMemoryLoader(loader.X[:limit], loader.y[:limit],
                                    loader.batch_size, loader.shuffle,
                                    transform=loader.transform)


def book_loaders(limit=None):
    """The book's data path: uint8 images in memory, converted per mini-batch."""
    train_iter, test_iter = d2l_utils.load_data_fashion_mnist(BATCH_SIZE)
    return _trim(train_iter, limit), _trim(test_iter, limit)


def standard_loaders(limit=None, num_workers=4):
    """The d2l book's 0.17 data path: FashionMNIST + ToTensor through DataLoader.

    torchvision is imported here only, so that the other pipelines' peak memory does
    not include it (the book's library does not import it either).
    """
    import torchvision
    from torchvision import transforms
    root = d2l_utils.data_root()
    datasets = []
    for train in (True, False):
        d2l_utils.read_fashion_mnist(train, root)  # fills torchvision's raw/ folder offline
        dataset = torchvision.datasets.FashionMNIST(root=root, train=train,
                                                    transform=transforms.ToTensor())
        if limit is not None:
            dataset = data.Subset(dataset, range(min(limit, len(dataset))))
        datasets.append(dataset)
    return (data.DataLoader(datasets[0], BATCH_SIZE, shuffle=True, num_workers=num_workers),
            data.DataLoader(datasets[1], BATCH_SIZE, shuffle=False, num_workers=num_workers))


# ---- the d2l book's 0.17 loop (used by the standard pipeline) ----
def usual_accuracy(y_hat, y):
    """Number of correct predictions, as a Python float (one sync per batch)."""
    return float((y_hat.argmax(dim=1).type(y.dtype) == y).type(y.dtype).sum())


def usual_train_epoch(net, train_iter, loss, updater):
    """One epoch as the d2l book's 0.17 code trains; returns (mean loss, accuracy)."""
    totals = [0.0, 0.0, 0.0]
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        l.sum().backward()
        updater(X.shape[0])
        for i, value in enumerate((float(l.sum()), usual_accuracy(y_hat, y), y.numel())):
            totals[i] += value
    return totals[0] / totals[2], totals[1] / totals[2]


def usual_evaluate_accuracy(net, data_iter):
    """Accuracy as the d2l book's 0.17 code evaluates it (under torch.no_grad)."""
    correct = total = 0.0
    with torch.no_grad():
        for X, y in data_iter:
            correct += usual_accuracy(net(X), y)
            total += y.numel()
    return correct / total


def plain_sgd(params, lr, batch_size):
    """Minibatch SGD on the summed loss, the d2l book's 0.17 `sgd`."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


# ---- the compute floor: model steps only ----
def floor_train_epoch(net, params, batches, loss):
    """Forward, loss, backward, update over a list of batches; nothing else."""
    for X, y in batches:
        loss(net(X), y).sum().backward()
        d2l_utils.sgd(params, LR, X.shape[0])


def floor_evaluate(net, batches):
    """Forward and argmax over a list of batches; one conversion at the end."""
    with torch.no_grad():
        correct = sum((net(X).argmax(dim=1) == y).sum() for X, y in batches)
        return float(correct) / sum(len(y) for _, y in batches)


# ---- the hand-derived gradient ----
def hand_gradient_train_epoch(net, params, train_iter):
    """One epoch with dL/do = softmax(o) - one_hot(y) and no autograd.

    Keeps the same bookkeeping as the book's `train_epoch` (summed loss, correct
    predictions, examples) so that only the gradient computation differs. One
    stable log-softmax per batch serves the loss, the gradient and nothing else is
    recomputed: the per-batch cost is a handful of tensor operations. The weight
    gradient is formed as G^T X, the transpose of X^T G: MKL multiplies the
    (10 x 32)(32 x 784) product about three times faster than the (784 x 32)(32 x 10)
    one on this CPU (small-matrix overhead), and the update writes through W.T.
    """
    W, b = params
    metric = d2l_utils.Accumulator(3)
    for X, y in train_iter:
        X = X.reshape(X.shape[0], -1)
        o = torch.addmm(b, X, W)
        log_p = d2l_utils.log_softmax(o)
        rows = torch.arange(len(y))
        G = log_p.exp()
        G[rows, y] -= 1  # softmax(o) - one_hot(y): gradient of the summed loss
        W.T.sub_(G.T @ X, alpha=LR / len(y))  # W -= lr * (X^T G) / batch_size
        b.sub_(G.sum(dim=0), alpha=LR / len(y))
        metric.add(-float(log_p[rows, y].sum()), float((o.argmax(dim=1) == y).sum()),
                   len(y))
    return metric[0] / metric[2], metric[1] / metric[2]


def build(name, limit=None):
    """Return `(train_one_epoch, evaluate)`: two callables for one pipeline."""
    loss = d2l_utils.cross_entropy
    if name == 'standard':
        net, params = make_model()
        train_iter, test_iter = standard_loaders(limit)
        updater = lambda batch_size: plain_sgd(params, LR, batch_size)  # noqa: E731
        return (lambda: usual_train_epoch(net, train_iter, loss, updater),
                lambda: usual_evaluate_accuracy(net, test_iter))
    if name == 'book':
        net, params = make_model()
        train_iter, test_iter = book_loaders(limit)
        updater = lambda batch_size: d2l_utils.sgd(params, LR, batch_size)  # noqa: E731
        return (lambda: d2l_utils.train_epoch(net, train_iter, loss, updater),
                lambda: d2l_utils.evaluate_accuracy(net, test_iter))
    if name == 'floor':
        net, params = make_model()
        train_iter, test_iter = book_loaders(limit)
        train_batches, test_batches = list(train_iter), list(test_iter)
        return (lambda: floor_train_epoch(net, params, train_batches, loss),
                lambda: floor_evaluate(net, test_batches))
    if name == 'hand_gradient':
        net, params = make_model(requires_grad=False)
        train_iter, test_iter = book_loaders(limit)
        return (lambda: hand_gradient_train_epoch(net, params, train_iter),
                lambda: d2l_utils.evaluate_accuracy(net, test_iter))
    raise ValueError(f'expected a pipeline name from {PIPELINES}, got {name!r}')


def peak_rss_mb(who=resource.RUSAGE_SELF):
    """Peak resident memory in MB (ru_maxrss is in KiB on Linux, bytes on macOS)."""
    kib = resource.getrusage(who).ru_maxrss
    return kib / (1 << 20) if sys.platform == 'darwin' else kib / 1024


def run(name, epochs, warmup, limit=None, threads=None):
    """Train `warmup + epochs` epochs of one pipeline; time each train and eval pass.

    Returns a dict: per-epoch seconds of the measured epochs (warm-up dropped), the
    last epoch's metrics, the set-up time and the peak resident memory of this process
    and of its largest child, the DataLoader workers (a forked child counts the pages
    it shares with this process). `import torch` already ran one short child
    (`ldconfig -p`, forked from the importing process); a child peak no larger than
    that one's is reported as None: the pipeline started no larger child.
    `threads` sets torch's intra-op threads (None: default).
    """
    children_at_start = peak_rss_mb(resource.RUSAGE_CHILDREN)
    if threads is not None:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    train_one_epoch, evaluate = build(name, limit)
    setup_s = time.perf_counter() - start
    train_s, eval_s, train_metrics, test_acc = [], [], None, None
    for epoch in range(warmup + epochs):
        t0 = time.perf_counter()
        train_metrics = train_one_epoch()
        t1 = time.perf_counter()
        test_acc = evaluate()
        t2 = time.perf_counter()
        if epoch >= warmup:
            train_s.append(t1 - t0)
            eval_s.append(t2 - t1)
    train_loss, train_acc = train_metrics if train_metrics else (None, None)
    child_peak = peak_rss_mb(resource.RUSAGE_CHILDREN)
    child_peak = child_peak if child_peak > children_at_start else None
    return {'pipeline': name, 'epochs': epochs, 'warmup': warmup, 'limit': limit,
            'torch_threads': torch.get_num_threads(), 'setup_s': setup_s,
            'train_s': train_s, 'eval_s': eval_s,
            'train_loss': train_loss, 'train_acc': train_acc, 'test_acc': test_acc,
            'peak_rss_mb': peak_rss_mb(), 'peak_child_rss_mb': child_peak}


# ---- the step-time ratio: the book's cross_entropy against F.cross_entropy ----
def torch_cross_entropy(logits, y):
    """PyTorch's loss, one value per example, as the book's `cross_entropy` returns."""
    return F.cross_entropy(logits, y, reduction='none')


def _book_epoch(loader, loss):
    """Return a callable that trains a fresh model one pass over `loader`, the book's way."""
    net, params = make_model()

    def updater(batch_size):
        d2l_utils.sgd(params, LR, batch_size)
    return lambda: d2l_utils.train_epoch(net, loader, loss, updater)


def step_times(batches=200, repeats=75, threads=1):
    """Seconds per training step of the book's pipeline with each loss, interleaved.

    The book's pipeline (load_data_fashion_mnist with validation=True, train_epoch,
    sgd) trains over the first `batches` batches of 32 of its training loader, once
    with `d2l_utils.cross_entropy` and once with `F.cross_entropy`, each with its own
    model. One warm-up pass each, then `repeats` rounds; the order within a round
    alternates, so that a slow drift of the machine's speed hits both alike.
    Returns {'book': [...], 'torch': [...]}, seconds per step, one value per round.
    """
    if threads is not None:
        torch.set_num_threads(threads)
    train_iter = d2l_utils.load_data_fashion_mnist(BATCH_SIZE, validation=True)[0]
    loader = _trim(train_iter, batches * BATCH_SIZE)
    epochs = {'book': _book_epoch(loader, d2l_utils.cross_entropy),
              'torch': _book_epoch(loader, torch_cross_entropy)}
    for epoch in epochs.values():
        epoch()  # warm-up
    times = {name: [] for name in epochs}
    for round_ in range(repeats):
        order = list(epochs) if round_ % 2 == 0 else list(epochs)[::-1]
        for name in order:
            start = time.perf_counter()
            epochs[name]()
            times[name].append((time.perf_counter() - start) / len(loader))
    return {**times, 'batches': len(loader), 'repeats': repeats,
            'torch_threads': torch.get_num_threads(), 'peak_rss_mb': peak_rss_mb()}
