"""benchmarks/: medians, ratios, budgets and info lines; notebook timing; the script's JSON.

No timing thresholds here: timings depend on the machine and its load. The budgets are
checked by `make bench`, not by the tests.
"""
import json
import statistics
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
    report = {'ratios': {}, 'step_ratio': {}, 'notebooks': {'chapters': {}, 'book': {}}}
    for path, value in values.items():
        *parents, key = path.split('__')
        target = report
        for parent in parents:
            target = target.setdefault(parent, {})
        target[key] = value
    return report


def test_step_ratio_summary_takes_the_median_of_the_rounds_ratios():
    # the second round ran five times slower for both losses: its ratio is ordinary
    step = harness.summarize_step_ratio({'book': [3e-4, 1.5e-3, 2.2e-4],
                                         'torch': [2e-4, 1e-3, 2e-4]})
    assert step['median_book_s'] == 3e-4 and step['median_torch_s'] == 2e-4
    assert step['ratio'] == pytest.approx(1.5)  # of 1.5, 1.5 and 1.1


def test_step_ratio_summary_rejects_unpaired_timings():
    with pytest.raises(ValueError, match='as many book as torch'):
        harness.summarize_step_ratio({'book': [1.0], 'torch': []})
    with pytest.raises(ValueError, match='at least one'):
        harness.summarize_step_ratio({'book': [], 'torch': []})


def test_budgets_pass_fail_and_skip():
    report = report_with(step_ratio__ratio=1.15,
                         notebooks__chapters__softmax={'peak_rss_mb': 700.0},
                         notebooks__chapters__softmax_scratch={'peak_rss_mb': 1024.0})
    status = {b['budget']: b['passed'] for b in harness.evaluate_budgets(report)}
    assert status == {'step_ratio': True,  # the limit itself passes
                      'chapter_peak_mb:softmax': True,
                      'chapter_peak_mb:softmax_scratch': False}  # 1 GB is not under 1 GB
    lines = harness.budget_lines(harness.evaluate_budgets(report))
    assert lines[0] == ("PASS  training step with the book's cross_entropy / with "
                        "F.cross_entropy: 1.15 (budget <= 1.15)")
    assert lines[2] == ('FAIL  chapters/softmax_scratch.ipynb, peak memory, MB: 1024 '
                        '(budget < 1024)')


def test_budgets_not_measured_are_skipped():
    lines = harness.budget_lines(harness.evaluate_budgets(report_with()))
    assert len(lines) == 2 and all(line.startswith('SKIP') for line in lines)
    assert "every chapter's kernel" in lines[1]


def test_the_budgets_are_the_step_ratio_and_one_memory_budget_per_chapter():
    report = report_with(**{f'notebooks__chapters__{name}': {'peak_rss_mb': 1.0}
                            for name in ('a', 'b', 'c')})
    budgets = harness.evaluate_budgets(report)
    assert [b['budget'] for b in budgets] == [
        'step_ratio', 'chapter_peak_mb:a', 'chapter_peak_mb:b', 'chapter_peak_mb:c']
    assert [(b['op'], b['limit']) for b in budgets] == [('<=', 1.15)] + [('<', 1024.0)] * 3


def test_info_lines_print_what_was_measured_without_a_budget():
    report = report_with(ratios__standard_over_book=12.34,
                         notebooks__book__seconds=152.3)
    lines = harness.info_lines(harness.info(report))
    assert lines == ['INFO  whole book, one pytest --nbval run: 152 s',
                     'INFO  standard pipeline / book pipeline, per epoch: 12.3x']


def test_chapters_in_order_follow_the_table_of_contents(tmp_path):
    (tmp_path / 'chapters').mkdir()
    for name in ('b', 'a', 'extra', 'c'):
        (tmp_path / 'chapters' / f'{name}.ipynb').write_text('{}')
    (tmp_path / '_toc.yml').write_text(
        'format: jb-book\nroot: intro\n'
        'chapters:\n  - file: chapters/c\n  - file: chapters/a\n'
        '    sections:\n      - file: chapters/b\n')
    names = [p.stem for p in harness.chapters_in_order(tmp_path)]
    assert names == ['c', 'a', 'b', 'extra']  # files outside the table come last


def test_every_chapter_is_timed():
    timed = {p.name for p in harness.chapters_in_order()}
    assert timed == {p.name for p in (ROOT / 'chapters').glob('*.ipynb')}


def test_a_page_without_code_passes_with_a_note(tmp_path):
    page = tmp_path / 'landing.ipynb'
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell('# A page without code')]
    nbformat.write(nb, str(page))
    assert not harness.has_code(page)
    result = harness.time_notebooks([page], book=False, log=lambda *a: None,
                                    root=tmp_path)['chapters']['landing']
    assert result['returncode'] == 5 and result['passed']
    assert result['note'] == 'no code cells' and 'output_tail' not in result


def test_measure_command_reports_time_status_and_memory():
    ok = harness.measure_command([sys.executable, '-c', 'x = bytearray(50 * 2**20)'])
    assert ok['passed'] and ok['returncode'] == 0 and ok['seconds'] > 0
    assert ok['peak_rss_mb'] >= 50  # the child's 50 MB buffer is seen
    failed = harness.measure_command([sys.executable, '-c', 'raise SystemExit(3)'])
    assert failed['returncode'] == 3 and not failed['passed']


def test_table_lists_every_pipeline_the_step_ratio_and_the_chapters():
    pipelines = {name: made_up([1.0], [0.5]) for name in harness.PIPELINE_TITLES}
    step = harness.summarize_step_ratio({'book': [4.4e-4], 'torch': [4e-4]})
    report = {'pipelines': pipelines, 'ratios': harness.ratios(pipelines),
              'step_ratio': {**step, 'batches': 1000, 'repeats': 1, 'torch_threads': 1},
              'notebooks': {'chapters': {
                  'softmax': {'seconds': 9.3, 'peak_rss_mb': 733.0, 'passed': True},
                  'under_the_hood': {'seconds': 1.0, 'peak_rss_mb': 60.0, 'passed': True,
                                     'note': 'no code cells'}}}}
    text = harness.table(report)
    for title in harness.PIPELINE_TITLES.values():
        assert title in text
    assert 'standard / book: 1.00x' in text
    assert "- with the book's cross_entropy: 440 microseconds" in text
    assert '- ratio: 1.1' in text
    assert '| chapters/softmax.ipynb | 9.3 | 733 | yes |' in text
    assert '| chapters/under_the_hood.ipynb (no code cells) | 1.0 | 60 | yes |' in text


@pytest.mark.skipif(
    data.find_local_copy() is None
    and not (data.data_root() / 'FashionMNIST' / 'raw').is_dir(),
    reason='Fashion-MNIST is not available offline')
def test_script_writes_the_json_report_on_tiny_data(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'benchmarks' / 'bench.py'), '--limit', '96',
         '--epochs', '2', '--standard-epochs', '1', '--warmup', '1', '--no-notebooks',
         '--threads', '1', '--step-batches', '2', '--step-repeats', '3', '--json', str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {'date', 'machine', 'load_before', 'load_after', 'recipe', 'pipelines', 'ratios',
            'step_ratio', 'budgets', 'info'} <= set(report)
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
    step = report['step_ratio']
    assert len(step['book']) == len(step['torch']) == 3 and step['batches'] == 2
    assert step['torch_threads'] == 1
    assert step['ratio'] == pytest.approx(statistics.median(
        b / t for b, t in zip(step['book'], step['torch'])))
    assert 'notebooks' not in report  # --no-notebooks
    assert '| pipeline |' in proc.stdout
    budget_lines = [line for line in proc.stdout.splitlines()
                    if line.split(' ', 1)[0] in ('PASS', 'FAIL', 'SKIP')]
    assert len(budget_lines) == 2  # the step ratio, and the chapters (not measured)
    assert budget_lines[0].split(' ', 1)[0] in ('PASS', 'FAIL')
    assert budget_lines[1].startswith('SKIP')
    assert any(line.startswith('INFO  book pipeline / compute floor')
               for line in proc.stdout.splitlines())
