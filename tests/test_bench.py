"""benchmarks/: the harness computes medians, ratios and budgets right; the script's JSON.

No timing thresholds here: timings depend on the machine and its load. The budgets are
checked by `make bench`, not by the tests.
"""
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'benchmarks'))
import harness  # noqa: E402

from d2l_utils import data  # noqa: E402


def made_up(train_s, eval_s, **extra):
    return harness.summarize({'train_s': train_s, 'eval_s': eval_s, 'peak_rss_mb': 100.0,
                              'peak_child_rss_mb': 0.0, 'test_acc': 0.5, **extra})


def test_summary_takes_medians_of_train_eval_and_their_sum():
    result = made_up([3.0, 1.0, 2.0], [0.5, 0.1, 0.2])
    assert result['train_median_s'] == 2.0
    assert result['eval_median_s'] == 0.2
    assert result['epoch_median_s'] == pytest.approx(2.2)  # sums 3.5, 1.1, 2.2


def test_summary_rejects_missing_or_unpaired_timings():
    with pytest.raises(ValueError, match='as many train as eval'):
        harness.summarize({'train_s': [1.0], 'eval_s': []})
    with pytest.raises(ValueError, match='at least one'):
        harness.summarize({'train_s': [], 'eval_s': []})


def test_ratios_divide_the_right_pipelines():
    pipelines = {'standard': made_up([9.0], [1.0]), 'book': made_up([0.9], [0.1]),
                 'floor': made_up([0.7], [0.1]), 'hand_gradient': made_up([0.2], [0.05])}
    r = harness.ratios(pipelines)
    assert r['standard_over_book'] == pytest.approx(10.0)
    assert r['book_over_floor'] == pytest.approx(1.25)
    assert r['standard_over_hand_gradient'] == pytest.approx(40.0)
    assert r['standard_over_book_train'] == pytest.approx(10.0)
    assert r['standard_over_book_eval'] == pytest.approx(10.0)
    assert r['standard_over_hand_gradient_eval'] == pytest.approx(20.0)
    assert r['book_over_floor_train'] == pytest.approx(0.9 / 0.7)


def test_ratio_over_zero_is_none():
    assert harness.ratio({'t': 1.0}, {'t': 0.0}, 't') is None


def test_missing_pipeline_gives_no_ratio():
    r = harness.ratios({'book': made_up([1.0], [0.1])})
    assert r['standard_over_book'] is None and r['book_over_floor'] is None


def report_with(**values):
    report = {'ratios': {}, 'notebooks': {'chapters': {'softmax_scratch': {}}, 'book': {}},
              'accuracy': {}}
    for path, value in values.items():
        *parents, key = path.split('__')
        target = report
        for parent in parents:
            target = target[parent]
        target[key] = value
    return report


def test_budgets_pass_fail_and_skip():
    report = report_with(ratios__book_over_floor=1.15, ratios__standard_over_book=9.9,
                         accuracy__test_acc=0.85)
    status = {b['budget']: b['passed'] for b in harness.evaluate_budgets(report)}
    assert status['book_over_floor'] is True  # the limit itself passes
    assert status['standard_over_book'] is False
    assert status['scratch_test_acc'] is True
    assert status['book_s'] is None  # not measured: neither pass nor fail
    lines = harness.budget_lines(harness.evaluate_budgets(report))
    assert any(line.startswith('FAIL') and 'speed-up' in line for line in lines)
    assert any(line.startswith('SKIP') for line in lines)


def test_budgets_cover_the_issue():
    assert {b[0] for b in harness.BUDGETS} == {
        'book_over_floor', 'standard_over_book', 'standard_over_hand_gradient',
        'scratch_chapter_s', 'book_s', 'scratch_chapter_peak_mb', 'scratch_chapter_passes',
        'scratch_test_acc'}


def test_printed_test_accuracy_reads_the_training_line(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
                    'stream', text='test accuracy of the untrained model: 0.0328\n')]),
                nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
                    'stream', text='train loss 0.3877, train accuracy 0.8645, '
                                   'test accuracy 0.8421\n')]),
                nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
                    'stream', text='train loss 0.5, train accuracy 0.8, test accuracy 0.7\n')])]
    path = tmp_path / 'chapter.ipynb'
    nbformat.write(nb, str(path))
    assert harness.printed_test_accuracy(path) == 0.8421
    assert harness.printed_test_accuracy(tmp_path / 'missing.ipynb') is None


def test_measure_command_reports_time_status_and_memory():
    ok = harness.measure_command([sys.executable, '-c', 'x = bytearray(50 * 2**20)'])
    assert ok['passed'] and ok['returncode'] == 0 and ok['seconds'] > 0
    assert ok['peak_rss_mb'] >= 50  # the child's 50 MB buffer is seen
    failed = harness.measure_command([sys.executable, '-c', 'raise SystemExit(3)'])
    assert failed['returncode'] == 3 and not failed['passed']


def test_table_lists_every_pipeline():
    pipelines = {name: made_up([1.0], [0.5]) for name in harness.PIPELINE_TITLES}
    report = {'pipelines': pipelines, 'ratios': harness.ratios(pipelines)}
    text = harness.table(report)
    for title in harness.PIPELINE_TITLES.values():
        assert title in text
    assert 'standard / book: 1.00x' in text


@pytest.mark.skipif(
    data.find_local_copy() is None
    and not (data.data_root() / 'FashionMNIST' / 'raw').is_dir(),
    reason='Fashion-MNIST is not available offline')
def test_script_writes_the_json_report_on_tiny_data(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / 'bench.py'), '--limit', '96',
         '--epochs', '2', '--standard-epochs', '1', '--warmup', '1', '--no-notebooks',
         '--threads', '1', '--json', str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {'date', 'machine', 'load_before', 'load_after', 'recipe', 'pipelines', 'ratios',
            'accuracy', 'budgets'} <= set(report)
    assert set(report['pipelines']) == {'standard', 'book', 'floor', 'hand_gradient'}
    for name, p in report['pipelines'].items():
        assert len(p['train_s']) == len(p['eval_s']) == (1 if name == 'standard' else 2)
        assert p['peak_rss_mb'] > 0 and p['torch_threads'] == 1
        assert 0 <= p['test_acc'] <= 1
    p = report['pipelines']
    assert report['ratios']['standard_over_book'] == pytest.approx(
        p['standard']['epoch_median_s'] / p['book']['epoch_median_s'])
    assert report['ratios']['book_over_floor'] == pytest.approx(
        p['book']['epoch_median_s'] / p['floor']['epoch_median_s'])
    assert report['ratios']['standard_over_hand_gradient'] == pytest.approx(
        p['standard']['epoch_median_s'] / p['hand_gradient']['epoch_median_s'])
    assert 'notebooks' not in report  # --no-notebooks
    assert '| pipeline |' in proc.stdout
    budget_lines = [line for line in proc.stdout.splitlines()
                    if line.split(' ', 1)[0] in ('PASS', 'FAIL', 'SKIP')]
    assert len(budget_lines) == len(harness.BUDGETS)
