"""Summaries, ratios, budgets and the table of the benchmark; timing of notebook runs.

Pure functions over the dicts that `pipelines.run` returns, so that tests can check
them on made-up numbers, plus the helpers that time a command in its own process.
"""
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import toc  # noqa: E402  (tools/toc.py: the pages of _toc.yml)
MB = 1024 * 1024

# The budgets. Each: key, text, value key in the report, operator, limit. One more
# budget per chapter (its kernel's peak memory) is added by `chapter_budgets`.
BUDGETS = (
    ('step_ratio', "training step with the book's cross_entropy / with F.cross_entropy",
     'step_ratio.ratio', '<=', 1.15),
)
CHAPTER_PEAK_MB = 1024.0  # every chapter's kernel stays under 1 GB
# Measured and printed, without a budget: key, text, value key, unit.
INFO = (
    ('scratch_chapter_s', 'from-scratch chapter (softmax_scratch), one nbval pass',
     'notebooks.chapters.softmax_scratch.seconds', 's'),
    ('book_s', 'whole book, one pytest --nbval run', 'notebooks.book.seconds', 's'),
    ('standard_over_book', 'standard pipeline / book pipeline, per epoch',
     'ratios.standard_over_book', 'x'),
    ('book_over_floor', 'book pipeline / compute floor, per epoch',
     'ratios.book_over_floor', 'x'),
    ('standard_over_hand_gradient', 'standard pipeline / hand gradient, per epoch',
     'ratios.standard_over_hand_gradient', 'x'),
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


def summarize_step_ratio(result):
    """Add the medians (seconds per step) and the ratio, book over torch.

    The ratio is the median of the rounds' own ratios: each round times the two
    losses back to back, so a round during which the machine ran slower slows both
    and leaves its ratio alone, where it would shift one median more than the other.
    """
    book, torch_ = result['book'], result['torch']
    if not book or len(book) != len(torch_):
        raise ValueError(f'expected as many book as torch timings, at least one, got '
                         f'{len(book)} and {len(torch_)}')
    ratios = [b / t for b, t in zip(book, torch_) if t]
    return {**result, 'median_book_s': statistics.median(book),
            'median_torch_s': statistics.median(torch_),
            'ratio': statistics.median(ratios) if ratios else None}


def lookup(report, dotted):
    """report['a']['b']... for 'a.b...', or None when a key is missing."""
    value = report
    for key in dotted.split('.'):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def chapter_budgets(report):
    """One memory budget per chapter timed in the report, or one for all if none was."""
    chapters = (report.get('notebooks') or {}).get('chapters') or {}
    if not chapters:
        return (('chapter_peak_mb', "every chapter's kernel, peak memory, MB",
                 'notebooks.chapters', '<', CHAPTER_PEAK_MB),)
    return tuple((f'chapter_peak_mb:{name}', f'chapters/{name}.ipynb, peak memory, MB',
                  f'notebooks.chapters.{name}.peak_rss_mb', '<', CHAPTER_PEAK_MB)
                 for name in chapters)


def evaluate_budgets(report):
    """Return one dict per budget: value, limit, and passed (None when not measured)."""
    results = []
    for key, text, path, op, limit in BUDGETS + chapter_budgets(report):
        value = lookup(report, path)
        if isinstance(value, dict):  # the chapters were not timed
            value = None
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


def info(report):
    """Return one dict per measured quantity without a budget: text, value, unit."""
    return [{'info': key, 'text': text, 'value': lookup(report, path), 'unit': unit}
            for key, text, path, unit in INFO]


def info_lines(items):
    """INFO lines, one per quantity that was measured."""
    return [f"INFO  {i['text']}: {_fmt(i['value'])}{'' if i['unit'] == 'x' else ' '}"
            f"{i['unit']}" for i in items if i['value'] is not None]


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
    step = report.get('step_ratio')
    if step:
        lines += ['', f"Training step, book pipeline at batch 32 ({step['batches']} batches, "
                      f"{step['repeats']} interleaved rounds, median of their ratios, "
                      f"{step['torch_threads']} torch thread(s)):",
                  f"- with the book's cross_entropy: {step['median_book_s'] * 1e6:.0f} "
                  'microseconds',
                  f"- with F.cross_entropy: {step['median_torch_s'] * 1e6:.0f} microseconds",
                  f"- ratio: {_fmt(step['ratio'])}"]
    notebooks = report.get('notebooks')
    if notebooks:
        lines += ['', '| notebook (pytest --nbval, kernel start included) | seconds '
                      '| peak RSS MB | passed |',
                  '|---|---:|---:|:---:|']
        for name, nb in notebooks['chapters'].items():
            note = f" ({nb['note']})" if nb.get('note') else ''
            lines.append(f"| chapters/{name}.ipynb{note} | {nb['seconds']:.1f} | "
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
    """The nbval run of `make nbval` (this CPU's pass), on the given notebooks."""
    return [sys.executable, '-m', 'pytest', '--nbval', '--nbval-current-env',
            '-p', 'no:cacheprovider', '--nbval-sanitize-with',
            str(ROOT / 'tests' / 'nbval-sanitize.cfg'), '-q', *map(str, paths)]


def chapters_in_order(root=ROOT):
    """The notebooks in chapters/: those of _toc.yml in the book's order, then the rest."""
    chapters = sorted((root / 'chapters').glob('*.ipynb'))
    toc_file = root / '_toc.yml'
    if toc_file.exists():
        rank = {name: i for i, name in enumerate(toc.pages(toc_file))}
        chapters.sort(key=lambda p: (rank.get(f'chapters/{p.stem}', len(rank)), p.stem))
    return chapters


def has_code(path):
    """True if the notebook has a code cell (nbval collects nothing otherwise)."""
    return any(cell.cell_type == 'code' for cell in nbformat.read(str(path), 4).cells)


def time_notebooks(chapters, book=True, log=print, root=ROOT):
    """Time one strict nbval pass per chapter, then the whole book in one run.

    A page without code cells starts no kernel, and pytest reports that it collected
    nothing (exit status 5): it passes, with a note, and its peak memory is pytest's.
    """
    out = {'chapters': {}}
    for path in chapters:
        result = measure_command(nbval_command([path.relative_to(root)]), cwd=root)
        if result['returncode'] == 5 and not has_code(path):
            result.update(passed=True, note='no code cells')
            result.pop('output_tail', None)
        out['chapters'][path.stem] = result
        log(f"  {path.name}: {result['seconds']:.1f} s, peak {result['peak_rss_mb']:.0f} MB, "
            f"{'passed' if result['passed'] else 'FAILED'}")
    if book and chapters:
        out['book'] = measure_command(nbval_command([p.relative_to(root) for p in chapters]),
                                      cwd=root)
        log(f"  whole book: {out['book']['seconds']:.1f} s, "
            f"{'passed' if out['book']['passed'] else 'FAILED'}")
    return out


if __name__ == '__main__' and sys.argv[1:3] == ['--measure', '--']:
    _measure_main(sys.argv[3:])
