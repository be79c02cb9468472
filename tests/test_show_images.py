"""d2l_utils.show_images and use_svg_display, under the non-interactive Agg backend."""
import io

import matplotlib
import pytest
import torch

matplotlib.use('Agg')
from matplotlib import pyplot as plt

from d2l_utils import show_images, use_svg_display


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


def test_grid_with_titles():
    imgs = torch.rand(5, 1, 28, 28)
    axes = show_images(imgs, 2, 3, titles=list('abcde'))
    assert len(axes) == 6
    assert [ax.get_title() for ax in axes] == ['a', 'b', 'c', 'd', 'e', '']
    assert len(axes[0].images) == 1 and len(axes[5].images) == 0
    assert axes[0].images[0].get_cmap().name == 'gray'
    assert axes[0].images[0].get_array().shape == (28, 28)


def test_accepts_lists_of_2d_images():
    axes = show_images([torch.zeros(4, 4), torch.ones(4, 4)], 1, 2)
    assert all(len(ax.images) == 1 for ax in axes)


@pytest.mark.parametrize('args, message', [
    ((torch.rand(7, 28, 28), 2, 3), '7 images do not fit a 2x3 grid'),
    ((torch.rand(1, 28, 28), 0, 3), 'num_rows and num_cols must be at least 1, got 0 and 3'),
    ((torch.rand(2, 3, 28, 28), 1, 2),
     r'image 0 must be \(height, width\) or \(1, height, width\), got shape \(3, 28, 28\)'),
])
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        show_images(*args)


def test_too_few_titles():
    with pytest.raises(ValueError, match='got 1 titles for 2 images'):
        show_images(torch.rand(2, 28, 28), 1, 2, titles=['only one'])


def svg_of_a_figure():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label='line')
    ax.legend()
    buffer = io.StringIO()
    fig.savefig(buffer, format='svg', metadata={'Date': None})
    plt.close(fig)
    return buffer.getvalue()


def test_svg_output_is_reproducible():
    old_salt = matplotlib.rcParams['svg.hashsalt']
    try:
        use_svg_display()
        first, second = svg_of_a_figure(), svg_of_a_figure()
    finally:
        matplotlib.rcParams['svg.hashsalt'] = old_salt
    assert first == second and '<dc:date>' not in first
