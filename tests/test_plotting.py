"""d2l_utils.set_axes and d2l_utils.Animator under the non-interactive Agg backend.

Outside Jupyter the Animator must only record points (no output, no blocking); inside
Jupyter it must show one figure and update it in place through a display handle. The
second case is tested with a stand-in for IPython's `display`.
"""
import os
import subprocess
import sys
import textwrap

import matplotlib
import matplotlib.figure
import pytest

matplotlib.use('Agg')
from matplotlib import pyplot as plt

import d2l_utils.plotting as plotting
from d2l_utils import Animator, set_axes


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close('all')


class FakeHandle:
    def __init__(self, log):
        self.log = log

    def update(self, obj):
        self.log.append(('update', describe(obj)))


def describe(obj):
    """'figure', 'empty' for an empty HTML output, or the object itself."""
    if isinstance(obj, matplotlib.figure.Figure):
        return 'figure'
    if isinstance(obj, plotting.display.HTML) and obj.data == '':
        return 'empty'
    return obj


@pytest.fixture
def notebook(monkeypatch):
    """Pretend to run in Jupyter; return the list of display calls made."""
    log = []

    def fake_display(obj, display_id=False):
        log.append(('display with handle' if display_id else 'display', describe(obj)))
        return FakeHandle(log) if display_id else None

    monkeypatch.setattr(plotting, 'in_notebook', lambda: True)
    monkeypatch.setattr(plotting.display, 'display', fake_display)
    return log


def test_set_axes_applies_everything_given():
    _, ax = plt.subplots()
    ax.plot([1, 2, 3], [1, 10, 100], label='curve')
    set_axes(ax, 'epoch', 'loss', [0, 5], [1, 1000], 'linear', 'log', ['curve'])
    assert ax.get_xlabel() == 'epoch' and ax.get_ylabel() == 'loss'
    assert ax.get_xlim() == (0, 5) and ax.get_ylim() == (1, 1000)
    assert ax.get_xscale() == 'linear' and ax.get_yscale() == 'log'
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ['curve']
    assert ax.xaxis.get_gridlines()[0].get_visible()


def test_set_axes_leaves_limits_of_none_to_autoscaling():
    _, ax = plt.subplots()
    set_axes(ax, None, None, None, [0, 1], 'linear', 'linear', None)
    assert ax.get_autoscalex_on() and not ax.get_autoscaley_on()
    assert ax.get_legend() is None


def test_outside_jupyter_it_records_points_and_displays_nothing(monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise AssertionError('display must not be called outside Jupyter')

    monkeypatch.setattr(plotting.display, 'display', fail)
    animator = Animator(xlabel='epoch', legend=['loss', 'acc'])
    for epoch in range(1, 4):
        animator.add(epoch, (1.0 / epoch, 0.5 + 0.1 * epoch))
    assert [list(line.get_xdata()) for line in animator.lines] == [[1, 2, 3]] * 2
    assert list(animator.lines[0].get_ydata()) == pytest.approx([1, 0.5, 1 / 3])
    assert animator.axes[0].get_xlabel() == 'epoch'
    number = animator.fig.number
    animator.close()
    assert number not in plt.get_fignums()
    assert capsys.readouterr() == ('', '')


def test_axes_follow_the_data_unless_limits_are_given():
    free = Animator()
    free.add(1, 0.5)
    free.add(2, 4.0)  # a large value, as a big first-epoch loss would be
    low, high = free.axes[0].get_ylim()
    assert low <= 0.5 and high >= 4.0
    fixed = Animator(ylim=[0.3, 0.9])
    fixed.add(1, 0.5)
    fixed.add(2, 4.0)
    assert fixed.axes[0].get_ylim() == (0.3, 0.9)


def test_none_skips_a_curve_and_formats_cycle():
    animator = Animator(fmts=('-', 'r:'))
    animator.add([1, 1, 1], [0.1, None, 0.3])
    animator.add([2, 2, 2], [0.2, 0.5, 0.4])
    assert [len(line.get_xdata()) for line in animator.lines] == [2, 1, 2]
    assert animator.lines[2].get_linestyle() == animator.lines[0].get_linestyle() == '-'


@pytest.mark.parametrize('x, y, message', [
    (1, (0.1, 0.2, 0.3), 'one x and one y per curve .2 curves., got 3 x and 3 y values'),
    ([1, 2, 3], (0.1, 0.2), 'one x and one y per curve .2 curves., got 3 x and 2 y values'),
])
def test_wrong_number_of_values(x, y, message):
    animator = Animator()
    animator.add(0, (0.0, 0.0))
    with pytest.raises(ValueError, match=message):
        animator.add(x, y)


def test_in_jupyter_one_display_then_updates_in_place(notebook):
    animator = Animator(legend=['loss'])
    animator.add(1, 1.0)
    # an empty output first: tools that ignore updates (nbval) see only that
    assert notebook == [('display with handle', 'empty'), ('update', 'figure')]
    animator.draw_seconds = 0.0  # drawing is free: every add redraws
    animator.add(2, 0.5)
    animator.add(3, 0.25)
    assert notebook[2:] == [('update', 'figure')] * 2
    number = animator.fig.number
    animator.close()  # the live output emptied, the final figure shown once
    assert notebook[4:] == [('update', 'empty'), ('display', 'figure')]
    assert number not in plt.get_fignums()


def test_redraws_are_skipped_when_drawing_would_dominate(notebook):
    animator = Animator()
    animator.add(1, 1.0)
    animator.draw_seconds = 3600.0  # pretend a redraw takes an hour
    for epoch in range(2, 10):
        animator.add(epoch, 1.0 / epoch)
    assert notebook == [('display with handle', 'empty'), ('update', 'figure')]
    animator.close()  # the final state is always shown
    assert notebook[-1] == ('display', 'figure')
    assert list(animator.lines[0].get_xdata()) == list(range(1, 10))


def test_in_jupyter_without_points_nothing_is_shown(notebook):
    animator = Animator()
    animator.close()
    assert notebook == []


@pytest.mark.parametrize('backend', ['Agg', None])
def test_a_plain_python_script_neither_blocks_nor_prints(backend):
    script = textwrap.dedent('''
        import d2l_utils
        animator = d2l_utils.Animator(xlabel='epoch', legend=['train loss', 'test acc'])
        for epoch in range(1, 6):
            animator.add(epoch, (1 / epoch, 1 - 1 / epoch))
        animator.close()
        assert not d2l_utils.in_notebook()
    ''')
    env = {k: v for k, v in os.environ.items() if k not in ('MPLBACKEND', 'DISPLAY')}
    if backend:
        env['MPLBACKEND'] = backend  # else matplotlib picks one: without a display, Agg
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ''


def test_in_jupyter_other_outputs_of_the_cell_are_kept(notebook, monkeypatch):
    """No clear_output: what the cell printed before or during training stays."""
    def fail(*args, **kwargs):
        raise AssertionError('clear_output would erase the other outputs of the cell')

    monkeypatch.setattr(plotting.display, 'clear_output', fail)
    animator = Animator(legend=['loss'])
    animator.draw_seconds = 0.0
    for epoch in range(1, 4):
        animator.add(epoch, 1.0 / epoch)
    animator.close()
    assert notebook[-1] == ('display', 'figure')
