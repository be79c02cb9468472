"""Fashion-MNIST: find or download it, read it into memory once, serve mini-batches.

The loading itself is torchvision's `FashionMNIST(..., download=True)`. Before calling
it, `prepare_raw_folder` seeds torchvision's `raw/` folder from a local copy of the four
original IDX files when one exists (the folder named by the environment variable
`FASHION_MNIST_DIR`, then Debian's `dataset-fashion-mnist` package), so that no network
is needed. The chapter "The Fashion-MNIST dataset" teaches the loader; the code below
the generated-code marker comes from that chapter.
"""
import contextlib
import gzip
import io
import os
import struct
import tempfile
import zlib
from pathlib import Path

import torch
import torchvision

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


def _check_idx(content, name, source):
    """Raise CorruptDataError unless `content` is the IDX file `name` should be."""
    magic, shape = IDX_FILES[name]
    expected = 4 + 4 * len(shape) + int(torch.tensor(shape).prod())
    header = struct.pack(f'>{1 + len(shape)}I', magic, *shape)
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
    magic, shape = IDX_FILES[name]
    expected = 4 + 4 * len(shape) + int(torch.tensor(shape).prod())
    with open(path, 'rb') as f:
        header = f.read(4 + 4 * len(shape))
    return (path.stat().st_size == expected
            and header == struct.pack(f'>{1 + len(shape)}I', magic, *shape))


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
    """Seed torchvision's `raw/` folder from a local copy; return the copy's folder.

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


def read_fashion_mnist(train, root=None):
    """Return one split as `(images, labels)`: uint8 (N, 28, 28) and int64 (N,) tensors.

    Uses the local copy when there is one, else torchvision's download.
    """
    root = Path(root) if root is not None else data_root()
    prepare_raw_folder(root)
    try:
        # torchvision prints one line per failed mirror; the error below says it all.
        with contextlib.redirect_stdout(io.StringIO()):
            dataset = torchvision.datasets.FashionMNIST(root=root, train=train,
                                                        download=True)
    except (RuntimeError, OSError) as e:
        cause = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise FashionMNISTUnavailable(
            f'Fashion-MNIST is not in {root / "FashionMNIST" / "raw"} and could not be '
            f'downloaded ({cause}). '
            + HOW_TO_GET_THE_DATA.format(debian=DEBIAN_DIR)) from None
    return dataset.data, dataset.targets


def main():
    """`python -m d2l_utils`: prepare the data set and say where it is."""
    root = data_root()
    for train in (True, False):
        images, labels = read_fashion_mnist(train, root)
        print(f'{"train" if train else "test"}: {tuple(images.shape)} images, '
              f'{len(labels)} labels')
    print(f'Fashion-MNIST is ready in {root / "FashionMNIST" / "raw"}')


# ---- begin generated by `make export` from the chapters' #@save cells: edit the chapter, not this ----
# ---- end generated ----
