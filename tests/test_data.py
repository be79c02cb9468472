"""d2l_utils.data: offline-first loading, atomic preparation, the loader, bad input."""
import gzip
import os
import socket

import pytest
import torch

from d2l_utils import data
from d2l_utils.data import (CorruptDataError, FashionMNISTUnavailable, InMemoryLoader,
                            get_fashion_mnist_labels, images_to_float,
                            load_data_fashion_mnist, prepare_raw_folder,
                            read_fashion_mnist, split_validation)

needs_local_copy = pytest.mark.skipif(
    data.find_local_copy() is None,
    reason='no local copy of Fashion-MNIST (apt-get install dataset-fashion-mnist)')


@pytest.fixture
def no_network(monkeypatch):
    """Make every attempt to open a connection fail, as on a machine without internet."""
    def refuse(*args, **kwargs):
        raise OSError('network disabled by the test')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


@pytest.fixture
def fresh_root(tmp_path, monkeypatch):
    """An empty data root, as on a new machine."""
    root = tmp_path / 'root'
    monkeypatch.setenv('D2L_DATA_ROOT', str(root))
    return root


@pytest.fixture
def small_copy(tmp_path):
    """A local copy folder holding the two (small) test-label files, gzipped and not."""
    folder = tmp_path / 'copy'
    folder.mkdir()
    return folder


@needs_local_copy
def test_local_copy_is_used_without_network(fresh_root, no_network):
    images, labels = read_fashion_mnist(train=False)
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert labels.bincount().tolist() == [1000] * 10
    raw = fresh_root / 'FashionMNIST' / 'raw'
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.IDX_FILES)


@needs_local_copy
def test_load_data_without_network(fresh_root, no_network):
    train_iter, test_iter = load_data_fashion_mnist(256)
    X, y = next(iter(train_iter))
    assert X.shape == (256, 1, 28, 28) and X.dtype == torch.float32
    assert 0 <= X.min() and X.max() <= 1
    assert (len(train_iter), len(test_iter)) == (235, 40)


def test_offline_error_says_both_ways(fresh_root, no_network, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv('FASHION_MNIST_DIR', str(tmp_path / 'nowhere'))
    monkeypatch.setattr(data, 'DEBIAN_DIR', tmp_path / 'not-installed')
    with pytest.raises(FashionMNISTUnavailable) as info:
        read_fashion_mnist(train=False)
    message = str(info.value)
    assert 'could not be downloaded' in message
    assert 'internet' in message
    assert 'apt-get install dataset-fashion-mnist' in message
    assert 'FASHION_MNIST_DIR' in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert capsys.readouterr().out == ''  # no line per failed mirror


def test_env_folder_comes_before_debian(monkeypatch, tmp_path):
    folder = tmp_path / 'mine'
    folder.mkdir()
    for name in data.IDX_FILES:
        (folder / f'{name}.gz').write_bytes(b'')
    monkeypatch.setenv('FASHION_MNIST_DIR', str(folder))
    assert data.find_local_copy() == folder


def test_incomplete_env_folder_is_skipped(monkeypatch, tmp_path):
    folder = tmp_path / 'partial'
    folder.mkdir()
    (folder / 't10k-labels-idx1-ubyte.gz').write_bytes(b'')
    monkeypatch.setenv('FASHION_MNIST_DIR', str(folder))
    monkeypatch.setattr(data, 'DEBIAN_DIR', tmp_path / 'not-installed')
    assert data.find_local_copy() is None


def labels_file(count=10000):
    """The bytes of a valid t10k labels IDX file."""
    header = (0x0801).to_bytes(4, 'big') + count.to_bytes(4, 'big')
    return header + bytes(i % 10 for i in range(count))


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / 't10k-labels-idx1-ubyte.gz'
    compressed = gzip.compress(labels_file())
    path.write_bytes(compressed[:len(compressed) // 2])
    with pytest.raises(CorruptDataError, match='t10k-labels-idx1-ubyte.gz is truncated or corrupt'):
        data._read_local(path, 't10k-labels-idx1-ubyte')


def test_short_file_is_named(tmp_path):
    path = tmp_path / 't10k-labels-idx1-ubyte'
    path.write_bytes(labels_file()[:-1])
    with pytest.raises(CorruptDataError, match=r'expected .*10008 bytes.*got 10007 bytes'):
        data._read_local(path, 't10k-labels-idx1-ubyte')


def test_wrong_file_under_the_name_is_named(tmp_path):
    path = tmp_path / 't10k-labels-idx1-ubyte'
    content = bytearray(labels_file())
    content[3] = 0x03  # the magic number of an image file
    path.write_bytes(bytes(content))
    with pytest.raises(CorruptDataError, match='t10k-labels-idx1-ubyte is truncated or corrupt'):
        data._read_local(path, 't10k-labels-idx1-ubyte')


def test_valid_file_reads(tmp_path):
    path = tmp_path / 't10k-labels-idx1-ubyte.gz'
    path.write_bytes(gzip.compress(labels_file()))
    assert data._read_local(path, 't10k-labels-idx1-ubyte') == labels_file()


@needs_local_copy
def test_interrupted_preparation_leaves_nothing_trusted(fresh_root, monkeypatch):
    real_fsync = os.fsync
    calls = []

    def interrupt_on_second_file(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_fsync(fd)

    monkeypatch.setattr(os, 'fsync', interrupt_on_second_file)
    with pytest.raises(KeyboardInterrupt):
        prepare_raw_folder(fresh_root)
    raw = fresh_root / 'FashionMNIST' / 'raw'
    names = sorted(p.name for p in raw.iterdir())
    assert len(names) == 1 and not any(n.endswith('.part') for n in names)
    assert data._is_trusted(raw / names[0], names[0])

    monkeypatch.setattr(os, 'fsync', real_fsync)
    prepare_raw_folder(fresh_root)
    assert all(data._is_trusted(raw / name, name) for name in data.IDX_FILES)


@needs_local_copy
def test_half_written_file_in_raw_is_replaced(fresh_root):
    prepare_raw_folder(fresh_root)
    victim = fresh_root / 'FashionMNIST' / 'raw' / 't10k-images-idx3-ubyte'
    victim.write_bytes(victim.read_bytes()[:1000])  # as a crashed non-atomic writer leaves it
    assert not data._is_trusted(victim, victim.name)
    prepare_raw_folder(fresh_root)
    assert data._is_trusted(victim, victim.name)
    images, _ = read_fashion_mnist(train=False)
    assert images.shape == (10000, 28, 28)


@pytest.mark.parametrize('batch_size', [0, -1, 1.5, '32', True, None])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match='batch_size must be a positive integer, got'):
        load_data_fashion_mnist(batch_size)


@pytest.mark.parametrize('resize', [0, -5, (64,), (64, 0), 'big', 2.5, (28, True)])
def test_bad_resize(resize):
    with pytest.raises(ValueError,
                       match='resize must be a positive integer or a pair of them, got'):
        load_data_fashion_mnist(32, resize=resize)


@needs_local_copy
def test_resize(fresh_root):
    _, test_iter = load_data_fashion_mnist(10, resize=(32, 40))
    X, _ = next(iter(test_iter))
    assert X.shape == (10, 1, 32, 40)


def test_labels():
    assert get_fashion_mnist_labels(torch.tensor([0, 9])) == ['t-shirt', 'ankle boot']
    assert get_fashion_mnist_labels([3, 8]) == ['dress', 'bag']
    assert get_fashion_mnist_labels(torch.tensor([], dtype=torch.int64)) == []


@pytest.mark.parametrize('labels, shown', [
    ([10], '10 at position 0'), ([1, -1], '-1 at position 1'),
    (torch.tensor([2.0]), '2.0 at position 0'), ([True], 'True at position 0'),
    (['coat'], "'coat' at position 0"),
])
def test_bad_labels(labels, shown):
    with pytest.raises(ValueError, match=f'expected class indices 0 to 9, got {shown}'):
        get_fashion_mnist_labels(labels)


def test_labels_must_be_one_dimensional():
    with pytest.raises(ValueError, match=r'1-D tensor of labels, got shape \(2, 2\)'):
        get_fashion_mnist_labels(torch.zeros(2, 2, dtype=torch.int64))


def test_loader_serves_each_example_once_per_pass():
    torch.manual_seed(0)
    positions = torch.arange(103)
    loader = InMemoryLoader(positions, positions * 2, batch_size=10, shuffle=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 11 and len(batches[-1][0]) == 3
    served = torch.cat([X for X, _ in batches])
    assert torch.equal(served.sort().values, positions)
    assert torch.equal(torch.cat([y for _, y in batches]), served * 2)
    assert not torch.equal(served, positions)
    assert not torch.equal(torch.cat([X for X, _ in loader]), served)


def test_ordered_loader_and_copies():
    X = torch.arange(10.)
    loader = InMemoryLoader(X, X, batch_size=4, shuffle=False)
    assert [b.tolist() for b, _ in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    for batch, _ in loader:
        batch.zero_()  # modifying a batch must not change the data set
    assert torch.equal(X, torch.arange(10.))


def test_loader_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match='same length, got 3 and 2'):
        InMemoryLoader(torch.zeros(3), torch.zeros(2), batch_size=1, shuffle=False)


def test_loader_applies_the_transform_to_each_batch():
    X = torch.arange(10, dtype=torch.uint8)
    calls = []

    def double(batch):
        calls.append(len(batch))
        return batch.float() * 2

    loader = InMemoryLoader(X, X.long(), batch_size=4, shuffle=False, transform=double)
    batches = [b for b, _ in loader]
    assert calls == [4, 4, 2]  # once per batch, as it is served
    assert torch.equal(torch.cat(batches), X.float() * 2)
    assert loader.X.dtype == torch.uint8  # the stored data is left alone


def test_images_to_float_scales_bytes_exactly():
    images = torch.tensor([[[0, 51], [255, 128]]], dtype=torch.uint8)
    X = images_to_float(images)
    assert X.shape == (1, 1, 2, 2) and X.dtype == torch.float32
    assert torch.equal(X, images.unsqueeze(1).float() / 255)
    assert X.min() == 0 and X.max() == 1


def test_images_to_float_resizes():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    X = images_to_float(images, (64, 48))
    assert X.shape == (3, 1, 64, 48) and X.dtype == torch.float32
    constant = images_to_float(torch.full((1, 28, 28), 255, dtype=torch.uint8), (56, 56))
    assert torch.allclose(constant, torch.ones(1, 1, 56, 56))


def toy_labels():
    """Three classes of 5, 6 and 7 examples, interleaved."""
    torch.manual_seed(0)
    labels = torch.tensor([0] * 5 + [1] * 6 + [2] * 7)
    return labels[torch.randperm(len(labels))]


def test_split_validation_is_balanced_disjoint_and_complete():
    labels = toy_labels()
    train_rows, val_rows = split_validation(labels, per_class=2)
    assert labels[val_rows].bincount().tolist() == [2, 2, 2]
    assert labels[train_rows].bincount().tolist() == [3, 4, 5]
    assert torch.equal(torch.cat([train_rows, val_rows]).sort().values,
                       torch.arange(len(labels)))
    assert torch.equal(val_rows, val_rows.sort().values)  # the data set's order


def test_split_validation_holds_out_the_last_of_each_class():
    labels = toy_labels()
    _, val_rows = split_validation(labels, per_class=2)
    expected = torch.cat([(labels == c).nonzero().squeeze(1)[-2:] for c in range(3)])
    assert torch.equal(val_rows, expected.sort().values)


def test_split_validation_uses_no_random_numbers():
    labels = toy_labels()
    torch.manual_seed(1)
    first = split_validation(labels, per_class=2)
    torch.manual_seed(2)
    second = split_validation(labels, per_class=2)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize('per_class, message', [
    (0, 'per_class must be a positive integer, got 0'),
    (True, 'per_class must be a positive integer, got True'),
    (2.0, 'per_class must be a positive integer, got 2.0'),
    (5, 'every class needs more than 5 examples to hold out that many, got as few as 5'),
])
def test_split_validation_rejects(per_class, message):
    with pytest.raises(ValueError, match=message):
        split_validation(toy_labels(), per_class=per_class)


@needs_local_copy
def test_load_data_with_validation(fresh_root):
    train_iter, val_iter, test_iter = load_data_fashion_mnist(1000, validation=True)
    assert [len(it.y) for it in (train_iter, val_iter, test_iter)] == [50000, 10000, 10000]
    assert [len(it) for it in (train_iter, val_iter, test_iter)] == [50, 10, 10]
    for it in (train_iter, val_iter, test_iter):
        assert it.X.dtype == torch.uint8 and it.X.shape[1:] == (28, 28)
    assert train_iter.shuffle and not val_iter.shuffle and not test_iter.shuffle
    assert val_iter.y.bincount().tolist() == [1000] * 10
    assert train_iter.y.bincount().tolist() == [5000] * 10
    images, labels = read_fashion_mnist(train=True)
    _, val_rows = split_validation(labels)
    assert torch.equal(val_iter.X, images[val_rows])
    X, y = next(iter(val_iter))
    assert X.shape == (1000, 1, 28, 28) and X.dtype == torch.float32
    assert torch.equal(X, images_to_float(images[val_rows[:1000]]))
    assert torch.equal(y, labels[val_rows[:1000]])
