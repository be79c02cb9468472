"""Fashion-MNIST: find or download it, read it into memory once, serve mini-batches.

The files live where torchvision's `FashionMNIST(..., download=True)` keeps them,
`root/FashionMNIST/raw/`. `prepare_raw_folder` fills that folder from a local copy of
the four original IDX files when one exists (the folder named by the environment
variable `FASHION_MNIST_DIR`, then Debian's `dataset-fashion-mnist` package), so that no
network is needed; only without one is torchvision asked to download them. The files
are then read directly (an IDX file is a short header and the raw bytes). The appendix
section "The data pipeline" explains this hand-written part; the code below the
generated-code marker comes from the chapter "The Fashion-MNIST dataset".
"""
import contextlib
import gzip
import io
import math
import operator
import os
import struct
import tempfile
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

__all__ = [
    'DEBIAN_DIR', 'FashionMNISTUnavailable', 'CorruptDataError', 'data_root',
    'find_local_copy', 'prepare_raw_folder', 'read_fashion_mnist',
]

DEBIAN_DIR = Path('/usr/share/datasets/fashion-mnist')

# The four IDX files: name -> (IDX magic number, shape of the array they hold).
# Magic 0x0803 is "unsigned bytes, 3 dimensions", 0x0801 "unsigned bytes, 1 dimension".
IDX_FILES = {
    'train-images-idx3-ubyte': (0x0803, (60000, 28, 28)),
    'train-labels-idx1-ubyte': (0x0801, (60000,)),
    't10k-images-idx3-ubyte': (0x0803, (10000, 28, 28)),
    't10k-labels-idx1-ubyte': (0x0801, (10000,)),
}

HOW_TO_GET_THE_DATA = (
    'Either run with internet access, so that torchvision can download it, or install '
    'a local copy of the four IDX files: on Debian or Ubuntu '
    '`apt-get install dataset-fashion-mnist` (installs them in {debian}), or set the '
    'environment variable FASHION_MNIST_DIR to a folder that holds them '
    '(gzipped or not).'
)


class FashionMNISTUnavailable(RuntimeError):
    """The data set is neither on disk nor downloadable."""


class CorruptDataError(ValueError):
    """A local IDX file is truncated or is not the file its name says."""


def data_root():
    """Return the folder torchvision keeps Fashion-MNIST in (env `D2L_DATA_ROOT`)."""
    return Path(os.environ.get('D2L_DATA_ROOT',
                               Path.home() / '.cache' / 'd2l_utils'))


def _local_file(folder, name):
    """Return the path of `name` or `name.gz` in `folder`, or None."""
    for candidate in (folder / name, folder / f'{name}.gz'):
        if candidate.is_file():
            return candidate
    return None


def find_local_copy():
    """Return the first folder holding all four IDX files, or None.

    Looks in `$FASHION_MNIST_DIR`, then in Debian's `/usr/share/datasets/fashion-mnist`.
    """
    candidates = [os.environ.get('FASHION_MNIST_DIR'), DEBIAN_DIR]
    for folder in candidates:
        if folder and all(_local_file(Path(folder), name) for name in IDX_FILES):
            return Path(folder)
    return None


def _idx_layout(name):
    """Return `(header, size)`: the bytes an IDX file `name` starts with, and its length."""
    magic, shape = IDX_FILES[name]
    header = struct.pack(f'>{1 + len(shape)}I', magic, *shape)
    return header, len(header) + math.prod(shape)


def _check_idx(content, name, source):
    """Raise CorruptDataError unless `content` is the IDX file `name` should be."""
    shape = IDX_FILES[name][1]
    header, expected = _idx_layout(name)
    if len(content) != expected or content[:len(header)] != header:
        raise CorruptDataError(
            f'{source} is truncated or corrupt: expected {name} with shape {shape} '
            f'({expected} bytes, header {header.hex()}), got {len(content)} bytes '
            f'starting {content[:len(header)].hex()}. Delete it or point '
            f'FASHION_MNIST_DIR at a good copy.')


def _read_local(path, name):
    """Return the decompressed bytes of a local IDX file, checked."""
    try:
        raw = path.read_bytes()
        content = gzip.decompress(raw) if path.suffix == '.gz' else raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise CorruptDataError(
            f'{path} is truncated or corrupt: it cannot be decompressed ({e}). '
            'Delete it or point FASHION_MNIST_DIR at a good copy.') from None
    _check_idx(content, name, path)
    return content


def _is_trusted(path, name):
    """True if `path` exists and has the size and header `name` must have."""
    if not path.is_file():
        return False
    header, expected = _idx_layout(name)
    with open(path, 'rb') as f:
        return path.stat().st_size == expected and f.read(len(header)) == header


def _write_atomically(path, content):
    """Write `content` to `path` so that no reader ever sees a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: never leave the .part file behind
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def prepare_raw_folder(root=None):
    """Fill torchvision's `raw/` folder from a local copy; return the copy's folder.

    Files already in `raw/` are kept if they have the right size and header; others
    are replaced. Each file appears under its final name only once it is complete
    (written to a temporary name, then renamed), so an interrupted run leaves
    nothing a later run would trust. Returns None when there is no local copy.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / 'FashionMNIST' / 'raw'
    missing = [name for name in IDX_FILES if not _is_trusted(raw / name, name)]
    if not missing:
        return raw
    local = find_local_copy()
    if local is None:
        return None
    raw.mkdir(parents=True, exist_ok=True)
    for name in missing:
        _write_atomically(raw / name, _read_local(_local_file(local, name), name))
    return local


def _read_raw(path, name):
    """Return the array held by the IDX file `name` at `path` as a uint8 tensor.

    The file is read once into a buffer that the tensor then shares, so reading
    the training images costs their 47 MB and no second copy.
    """
    header = _idx_layout(name)[0]
    buffer = bytearray(path.stat().st_size)
    with open(path, 'rb') as f:
        f.readinto(buffer)
    _check_idx(buffer, name, path)
    array = torch.frombuffer(buffer, dtype=torch.uint8, offset=len(header))
    return array.reshape(IDX_FILES[name][1])


def _download(root, train):
    """Let torchvision download one split into `root/FashionMNIST/raw/`."""
    import torchvision  # only here: importing it costs about 170 MB of memory
    try:
        # torchvision prints one line per failed mirror; the error below says it all.
        with contextlib.redirect_stdout(io.StringIO()):
            torchvision.datasets.FashionMNIST(root=root, train=train, download=True)
    except (RuntimeError, OSError) as e:
        cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FashionMNISTUnavailable(
            f'Fashion-MNIST is not in {root / "FashionMNIST" / "raw"} and could not be '
            f'downloaded ({cause}). '
            + HOW_TO_GET_THE_DATA.format(debian=DEBIAN_DIR)) from None


def read_fashion_mnist(train, root=None):
    """Return one split as `(images, labels)`: uint8 (N, 28, 28) and int64 (N,) tensors.

    Uses the local copy when there is one, else torchvision's download.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / 'FashionMNIST' / 'raw'
    prefix = 'train' if train else 't10k'
    names = (f'{prefix}-images-idx3-ubyte', f'{prefix}-labels-idx1-ubyte')
    prepare_raw_folder(root)
    if not all(_is_trusted(raw / name, name) for name in names):
        _download(root, train)
    images, labels = (_read_raw(raw / name, name) for name in names)
    return images, labels.long()


def main():
    """`python -m d2l_utils`: prepare the data set and say where it is."""
    root = data_root()
    for train in (True, False):
        images, labels = read_fashion_mnist(train, root)
        print(f'{"train" if train else "test"}: {tuple(images.shape)} images, '
              f'{len(labels)} labels')
    print(f'Fashion-MNIST is ready in {root / "FashionMNIST" / "raw"}')


# Edit the chapters, not the lines between the markers: `make export` rewrites them.
# ---- begin generated by `make export` from the chapters' #@save cells ----
# From chapters/fashion_mnist.ipynb
FASHION_MNIST_CLASSES = ('t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                         'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot')


def get_fashion_mnist_labels(labels):
    """Return the class names of Fashion-MNIST labels (integers 0 to 9).

    Taught in the chapter *The Fashion-MNIST dataset*.
    """
    if isinstance(labels, torch.Tensor) and labels.dim() != 1:
        raise ValueError(f'expected a 1-D tensor of labels, '
                         f'got shape {tuple(labels.shape)}')
    is_tensor = isinstance(labels, torch.Tensor)
    values = labels.tolist() if is_tensor else list(labels)
    names = []
    for position, value in enumerate(values):
        try:
            index = None if isinstance(value, bool) else operator.index(value)
        except TypeError:
            index = None
        if index is None or not 0 <= index < len(FASHION_MNIST_CLASSES):
            raise ValueError(f'expected class indices 0 to 9, '
                             f'got {value!r} at position {position}')
        names.append(FASHION_MNIST_CLASSES[index])
    return names


# From chapters/fashion_mnist.ipynb
def split_validation(labels, per_class=1000):
    """Return `(train_rows, val_rows)`: the last `per_class` of each class.

    A fixed split that needs no random numbers: for every class, its last
    `per_class` examples (in the order of the data set) are held out for
    validation. Taught in the chapter *The Fashion-MNIST dataset*.
    """
    if (isinstance(per_class, bool) or not isinstance(per_class, int)
            or per_class < 1):
        raise ValueError('per_class must be a positive integer, '
                         f'got {per_class!r}')
    counts = labels.bincount()
    if counts[counts > 0].min() <= per_class:
        raise ValueError(f'every class needs more than {per_class} examples '
                         'to hold out that many, got as few as '
                         f'{int(counts[counts > 0].min())}')
    held_out = torch.zeros(len(labels), dtype=torch.bool)
    for c in counts.nonzero().squeeze(1):
        held_out[(labels == c).nonzero().squeeze(1)[-per_class:]] = True
    return (~held_out).nonzero().squeeze(1), held_out.nonzero().squeeze(1)


# From chapters/fashion_mnist.ipynb
def _check_batch_size(batch_size):
    """Raise ValueError unless `batch_size` is a positive integer."""
    if (isinstance(batch_size, bool) or not isinstance(batch_size, int)
            or batch_size < 1):
        raise ValueError(f'batch_size must be a positive integer, '
                         f'got {batch_size!r}')


class InMemoryLoader:
    """Serve mini-batches `(X, y)` of tensors in memory, reshuffled each pass.

    `transform`, if given, is applied to each batch of `X` as it is served.
    Taught in the chapter *The Fashion-MNIST dataset*.
    """

    def __init__(self, X, y, batch_size, shuffle, transform=None):
        _check_batch_size(batch_size)
        if len(X) != len(y):
            raise ValueError(f'X and y must have the same length, '
                             f'got {len(X)} and {len(y)}')
        self.X, self.y = X, y
        self.batch_size, self.shuffle = batch_size, shuffle
        self.transform = transform

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        for rows in order.split(self.batch_size):
            X = self.X.index_select(0, rows)
            if self.transform is not None:
                X = self.transform(X)
            yield X, self.y.index_select(0, rows)


# From chapters/fashion_mnist.ipynb
def _image_size(resize):
    """Return `resize` as a (height, width) pair, or None; reject the rest."""
    if resize is None:
        return None
    pair = (resize, resize) if isinstance(resize, int) else resize
    if not (isinstance(pair, (tuple, list)) and len(pair) == 2
            and all(isinstance(side, int) and not isinstance(side, bool)
                    and side >= 1 for side in pair)):
        raise ValueError(f'resize must be a positive integer or a pair of '
                         f'them, got {resize!r}')
    return tuple(pair)


def images_to_float(images, size=None):
    """Return uint8 images (n, h, w) as float32 (n, 1, h, w) in [0, 1].

    With `size` (height, width) the images are also resized, bilinearly
    and antialiased. Taught in the chapter *The Fashion-MNIST dataset*.
    """
    X = images.unsqueeze(1).float().div_(255)
    if size is not None:
        X = F.interpolate(X, size=size, mode='bilinear',
                          align_corners=False, antialias=True)
    return X


def load_data_fashion_mnist(batch_size, resize=None, validation=False):
    """Return `(train_iter, test_iter)` over Fashion-MNIST, in memory.

    With `validation=True`, return `(train_iter, val_iter, test_iter)`:
    10,000 training images, the last 1,000 of each class, are held out
    for validation and the model trains on the other 50,000. Batches are
    float32 (batch, 1, height, width) in [0, 1] and int64 labels; the
    images stay uint8 in memory. Taught in the chapter *The Fashion-MNIST
    dataset*.
    """
    _check_batch_size(batch_size)
    size = _image_size(resize)

    def loader(images, labels, shuffle):
        return InMemoryLoader(images, labels, batch_size, shuffle,
                              transform=lambda X: images_to_float(X, size))

    images, labels = read_fashion_mnist(train=True)
    test_iter = loader(*read_fashion_mnist(train=False), shuffle=False)
    if not validation:
        return loader(images, labels, shuffle=True), test_iter
    train_rows, val_rows = split_validation(labels)
    return (loader(images[train_rows], labels[train_rows], shuffle=True),
            loader(images[val_rows], labels[val_rows], shuffle=False),
            test_iter)


__all__ += [
    'FASHION_MNIST_CLASSES', 'get_fashion_mnist_labels', 'split_validation', 'InMemoryLoader',
    'images_to_float', 'load_data_fashion_mnist',
]
# ---- end generated ----
