"""Helpers for the book "Softmax regression, executed".

Each helper is taught in a chapter (its docstring names which); the chapters are the
source of truth and `make export` copies them here. Modules follow the concerns:

- `d2l_utils.data`: Fashion-MNIST, offline-first, and an in-memory mini-batch loader;
- `d2l_utils.plotting`: SVG figures, image grids, the live `Animator`;
- `d2l_utils.functional`: stable `softmax` and logits-based `cross_entropy`;
- `d2l_utils.training`: `accuracy`, `Accumulator`, `train_epoch`, `train`, `sgd`, ...;
- `d2l_utils.calibration`: `expected_calibration_error`, `reliability_diagram`,
  `fit_temperature`, ...
"""
from .data import *  # noqa: F403
from .functional import *  # noqa: F403
from .plotting import *  # noqa: F403
from .training import *  # noqa: F403
from .calibration import *  # noqa: F403
