"""Summaries, ratios, budgets and the table of the benchmark; timing of notebook runs.

Pure functions over the dicts that `pipelines.run` returns, so that tests can check
them on made-up numbers, plus the helpers that time a command in its own process.
"""
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024

# The budgets. Each: key, text, value key in the report, operator, limit.
BUDGETS = (
    ('book_over_floor', "book's data path over the compute floor (train + eval)",
     'ratios.book_over_floor', '<=', 1.15),
    ('standard_over_book', 'book pipeline speed-up over the standard one',
     'ratios.standard_over_book', '>=', 10.0),
    ('standard_over_hand_gradient', 'hand-gradient speed-up over the standard pipeline',
     'ratios.standard_over_hand_gradient', '>=', 30.0),
    ('scratch_chapter_s', '100-epoch from-scratch chapter, nbval, seconds',
     'notebooks.chapters.softmax_scratch.seconds', '<', 60.0),
    ('book_s', 'whole book, one pytest --nbval run, seconds',
     'notebooks.book.seconds', '<', 150.0),
    ('scratch_chapter_peak_mb', 'peak memory of the from-scratch chapter, MB',
     'notebooks.chapters.softmax_scratch.peak_rss_mb', '<', 1536.0),
    ('scratch_chapter_passes', "from-scratch chapter passes (the seed's assertions)",
     'notebooks.chapters.softmax_scratch.passed', '==', True),
    ('scratch_test_acc', 'printed test accuracy of the from-scratch chapter',
     'accuracy.test_acc', '>=', 0.83),
)
OPERATORS = {'<': lambda a, b: a < b, '<=': lambda a, b: a <= b,
             '>=': lambda a, b: a >= b, '==': lambda a, b: a == b}


def summarize(result):
    """Add medians (train, eval, and train + eval per epoch) to one pipeline's result."""
    if not result['train_s'] or len(result['train_s']) != len(result['eval_s']):
        raise ValueError(f"expected as many train as eval timings, at least one, got "
                         f"{len(result['train_s'])} and {len(result['eval_s'])}")
    epochs = [t + e for t, e in zip(result['train_s'], result['eval_s'])]
    return {**result,
            'train_median_s': statistics.median(result['train_s']),
            'eval_median_s': statistics.median(result['eval_s']),
            'epoch_median_s': statistics.median(epochs)}


def ratio(numerator, denominator, key):
    """numerator[key] / denominator[key], or None when either is missing or zero."""
    if numerator is None or denominator is None or not denominator[key]:
        return None
    return numerator[key] / denominator[key]


def ratios(pipelines):
    """The issue's ratios of median epoch times (train + eval), and per phase.

    `pipelines` maps names to summarized results; missing pipelines give None.
    """
    get = pipelines.get
    out = {}
    for name, num, den in (('standard_over_book', 'standard', 'book'),
                           ('book_over_floor', 'book', 'floor'),
                           ('standard_over_hand_gradient', 'standard', 'hand_gradient')):
        out[name] = ratio(get(num), get(den), 'epoch_median_s')
        for phase in ('train', 'eval'):
            out[f'{name}_{phase}'] = ratio(get(num), get(den), f'{phase}_median_s')
    return out


def lookup(report, dotted):
    """report['a']['b']... for 'a.b...', or None when a key is missing."""
    value = report
    for key in dotted.split('.'):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def evaluate_budgets(report):
    """Return one dict per budget: value, limit, and passed (None when not measured)."""
    results = []
    for key, text, path, op, limit in BUDGETS:
        value = lookup(report, path)
        passed = None if value is None else bool(OPERATORS[op](value, limit))
        results.append({'budget': key, 'text': text, 'value': value, 'op': op,
                        'limit': limit, 'passed': passed})
    return results


def budget_lines(budgets):
    """PASS / FAIL / SKIP lines, one per budget."""
    lines = []
    for b in budgets:
        status = {True: 'PASS', False: 'FAIL', None: 'SKIP'}[b['passed']]
        value = 'not measured' if b['value'] is None else _fmt(b['value'])
        lines.append(f"{status}  {b['text']}: {value} (budget {b['op']} {_fmt(b['limit'])})")
    return lines


def _times(value):
    return '-' if value is None else f'{value:.2f}x'


def _fmt(value):
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f'{value:.3g}' if abs(value) < 100 else f'{value:.0f}'
    return str(value)


PIPELINE_TITLES = {
    'standard': 'standard (DataLoader, 4 workers)',
    'book': 'book (d2l_utils loader + train_epoch)',
    'floor': 'compute floor (pre-made batches)',
    'hand_gradient': 'book, hand-derived gradient',
}
PIPELINES = tuple(PIPELINE_TITLES)  # the names, in the order the benchmark runs them


def table(report):
    """The measured table, in Markdown, ready for the README."""
    rows = ['| pipeline | train s/epoch | eval s/epoch | epoch s | vs floor | peak RSS MB '
            '| test acc |',
            '|---|---:|---:|---:|---:|---:|---:|']
    pipelines = report['pipelines']
    floor = pipelines.get('floor')
    for name, title in PIPELINE_TITLES.items():
        p = pipelines.get(name)
        if p is None:
            continue
        vs_floor = f"{p['epoch_median_s'] / floor['epoch_median_s']:.2f}x" if floor else '-'
        peak = f"{p['peak_rss_mb']:.0f}"
        if p.get('peak_child_rss_mb'):
            peak += f" (+{p['peak_child_rss_mb']:.0f} largest worker)"
        acc = '-' if p.get('test_acc') is None else f"{p['test_acc']:.4f}"
        rows.append(f"| {title} | {p['train_median_s']:.3f} | {p['eval_median_s']:.3f} | "
                    f"{p['epoch_median_s']:.3f} | {vs_floor} | {peak} | {acc} |")
    r = report['ratios']
    lines = rows + ['']
    for key, text in (('standard_over_book', 'standard / book'),
                      ('book_over_floor', 'book / floor'),
                      ('standard_over_hand_gradient', 'standard / hand gradient')):
        if r.get(key) is not None:
            lines.append(f"- {text}: {_times(r[key])} per epoch (train "
                         f"{_times(r.get(key + '_train'))}, eval {_times(r.get(key + '_eval'))})")
    notebooks = report.get('notebooks')
    if notebooks:
        lines += ['', '| notebook (pytest --nbval, kernel start included) | seconds '
                      '| peak RSS MB | passed |',
                  '|---|---:|---:|:---:|']
        for name, nb in notebooks['chapters'].items():
            lines.append(f"| chapters/{name}.ipynb | {nb['seconds']:.1f} | "
                         f"{nb['peak_rss_mb']:.0f} | {'yes' if nb['passed'] else 'no'} |")
        book = notebooks.get('book')
        if book:
            lines.append(f"| whole book (one run) | {book['seconds']:.1f} | "
                         f"{book['peak_rss_mb']:.0f} | {'yes' if book['passed'] else 'no'} |")
    return '\n'.join(lines)


# ---- the machine and its load ----
def machine():
    """What the numbers were measured on."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    import torchvision
    return {'cpu_model': model, 'nproc': os.cpu_count(),
            'usable_cpus': (len(os.sched_getaffinity(0))
                            if hasattr(os, 'sched_getaffinity') else None),
            'torch_threads': torch.get_num_threads(), 'python': platform.python_version(),
            'torch': torch.__version__, 'torchvision': torchvision.__version__,
            'platform': platform.platform()}


def load_average():
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    return [round(x, 2) for x in os.getloadavg()]


# ---- running a command in its own process, timed, with its peak memory ----
def measure_command(cmd, cwd=ROOT, env=None):
    """Run `cmd` through a wrapper process; return seconds, return code, peak memory.

    The wrapper (this file run as a script) runs `cmd`, waits for it and reads
    `getrusage(RUSAGE_CHILDREN).ru_maxrss`: the peak resident memory of the largest
    process of the finished tree (for a notebook, its kernel), free of anything this
    process ran before.
    """
    wrapper = [sys.executable, str(Path(__file__).resolve()), '--measure', '--', *cmd]
    proc = subprocess.run(wrapper, cwd=cwd, env=env, capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'measuring {cmd} failed ({proc.returncode}): {proc.stderr[-2000:]}')
    return json.loads(lines[-1])


def _measure_main(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    peak_mb = kib / MB if sys.platform == 'darwin' else kib / 1024
    result = {'seconds': seconds, 'returncode': proc.returncode,
              'passed': proc.returncode == 0, 'peak_rss_mb': peak_mb}
    if proc.returncode != 0:
        result['output_tail'] = (proc.stdout + proc.stderr)[-3000:]
    print(json.dumps(result))


def nbval_command(paths):
    """The strict nbval run of `make nbval`, on the given notebooks."""
    return [sys.executable, '-m', 'pytest', '--nbval', '--nbval-current-env',
            '-p', 'no:cacheprovider', '-q', *map(str, paths)]


def chapters_in_order(root=ROOT):
    """The chapters of _toc.yml that exist, in the book's order (else sorted)."""
    chapters = sorted((root / 'chapters').glob('*.ipynb'))
    toc = root / '_toc.yml'
    if toc.exists():
        order = re.findall(r'file:\s*chapters/([\w-]+)', toc.read_text())
        rank = {name: i for i, name in enumerate(order)}
        chapters.sort(key=lambda p: (rank.get(p.stem, len(rank)), p.stem))
    return chapters


def time_notebooks(chapters, book=True, log=print):
    """Time one strict nbval pass per chapter, then the whole book in one run."""
    out = {'chapters': {}}
    for path in chapters:
        result = measure_command(nbval_command([path.relative_to(ROOT)]))
        out['chapters'][path.stem] = result
        log(f"  {path.name}: {result['seconds']:.1f} s, peak {result['peak_rss_mb']:.0f} MB, "
            f"{'passed' if result['passed'] else 'FAILED'}")
    if book and chapters:
        out['book'] = measure_command(nbval_command([p.relative_to(ROOT) for p in chapters]))
        log(f"  whole book: {out['book']['seconds']:.1f} s, "
            f"{'passed' if out['book']['passed'] else 'FAILED'}")
    return out


# ---- the accuracy the from-scratch chapter prints ----
# The line the chapter prints after training, e.g.
# "train loss 0.3877, train accuracy 0.8645, test accuracy 0.8243".
FINAL_METRICS = re.compile(r'train[ _]loss\W*[\d.]+.*?test[ _]acc(?:uracy)?\W*([01]?\.\d+)',
                           re.IGNORECASE)


def printed_test_accuracy(notebook_path):
    """The test accuracy printed with the train loss in a stored notebook, or None.

    Takes the first such line: the chapter's training run, not a later exercise.
    """
    if not Path(notebook_path).exists():
        return None
    nb = nbformat.read(str(notebook_path), as_version=4)
    for cell in nb.cells:
        for output in cell.get('outputs', []):
            text = output.get('text', '') or output.get('data', {}).get('text/plain', '')
            match = FINAL_METRICS.search(text)
            if match:
                return float(match.group(1))
    return None


if __name__ == '__main__' and sys.argv[1:3] == ['--measure', '--']:
    _measure_main(sys.argv[3:])
