"""Train a training chapter's recipe once per batch-order seed; store the results.

The chapters "Softmax regression from scratch" and "Concise implementation of
softmax regression" each train their recipe once, with batch-order seed 0, and quote
how much the results move when only the order of the training batches changes. A
100-epoch run is too slow to repeat inside a chapter, so this script repeats it: the
chapter's exact recipe (the same initial parameters, loss, updater, loader and one
thread), once per seed, and writes every run's per-epoch history and final
validation and test accuracies to chapters/results/NAME_seeds.json, which the chapter
loads and prints. The chapter also checks that its own run equals the run of seed 0
stored here, up to the rounding differences between CPUs.

    .venv/bin/python tools/seed_spread.py scratch   # 5 x 100 epochs, 5 CPU minutes
    .venv/bin/python tools/seed_spread.py concise   # 5 x 10 epochs, under 1 CPU minute
    .venv/bin/python tools/seed_spread.py scratch --seeds 0 --out /tmp/run.json
"""
import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault('MPLBACKEND', 'Agg')  # train's Animator draws, displays nothing

import torch
from torch import nn

from d2l_utils import (cross_entropy, evaluate_accuracy,
                       load_data_fashion_mnist, sgd, train)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'chapters' / 'results'
BATCH_SIZE, LR = 32, 0.1
EPOCHS = {'scratch': 100, 'concise': 10}


def scratch_run(seed, loaders, num_epochs):
    """The recipe of "Softmax regression from scratch", batch order `seed`."""
    train_iter, val_iter, test_iter = loaders
    generator = torch.Generator().manual_seed(0)  # init_params() of the chapter
    W = torch.normal(0, 0.01, size=(784, 10), generator=generator,
                     requires_grad=True)
    b = torch.zeros(10, requires_grad=True)

    def net(X):
        return torch.matmul(X.reshape(X.shape[0], -1), W) + b

    torch.manual_seed(seed)
    history = train(net, train_iter, val_iter, cross_entropy, num_epochs,
                    lambda n: sgd([W, b], LR, n))
    return history, evaluate_accuracy(net, test_iter)


def concise_run(seed, loaders, num_epochs):
    """The recipe of "Concise implementation of softmax regression"."""
    train_iter, val_iter, test_iter = loaders
    torch.manual_seed(0)  # the chapter's initial parameters
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    trainer = torch.optim.SGD(net.parameters(), lr=LR)
    torch.manual_seed(seed)
    history = train(net, train_iter, val_iter, nn.CrossEntropyLoss(),
                    num_epochs, trainer)
    return history, evaluate_accuracy(net, test_iter)


RECIPES = {'scratch': scratch_run, 'concise': concise_run}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('chapter', choices=sorted(RECIPES))
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
    parser.add_argument('--epochs', type=int, default=None,
                        help='default: the chapter\'s (scratch 100, concise 10)')
    parser.add_argument('--out', type=Path, default=None,
                        help='default: chapters/results/softmax_CHAPTER_seeds.json')
    args = parser.parse_args(argv)
    num_epochs = args.epochs or EPOCHS[args.chapter]
    out = args.out or RESULTS / f'softmax_{args.chapter}_seeds.json'
    torch.set_num_threads(1)  # as the chapters do
    loaders = load_data_fashion_mnist(BATCH_SIZE, validation=True)
    runs, start, cpu_start = [], time.perf_counter(), time.process_time()
    for seed in args.seeds:
        run_start = time.perf_counter()
        history, test_acc = RECIPES[args.chapter](seed, loaders, num_epochs)
        runs.append({'seed': seed, 'test_acc': test_acc, **history})
        print(f'seed {seed}: val acc {history["val_acc"][-1]:.4f}, test acc '
              f'{test_acc:.4f} ({time.perf_counter() - run_start:.0f} s)',
              file=sys.stderr)
    report = {
        'chapter': f'softmax_{args.chapter}',
        'command': f'.venv/bin/python tools/seed_spread.py {args.chapter}',
        'recipe': {'batch_size': BATCH_SIZE, 'lr': LR, 'num_epochs': num_epochs,
                   'train_examples': len(loaders[0].y),
                   'val_examples': len(loaders[1].y), 'torch_threads': 1},
        'seconds': round(time.perf_counter() - start),
        'cpu_seconds': round(time.process_time() - cpu_start),
        'torch': torch.__version__, 'machine': platform.machine(),
        'runs': runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + '\n')
    print(f'wrote {out} in {report["seconds"]} s', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
