"""`make bench`: the book's training pipeline, the cost of its loss, and its chapters.

Trains the from-scratch softmax regression (batch 32, lr 0.1) with four pipelines, each
in its own process so that peak memories are separate (see pipelines.py): the usual
DataLoader recipe of the d2l book's release 0.17, the book's, the compute floor and the
book's with the hand-derived gradient; reports the median seconds per epoch (train and
evaluation separately, after warm-up epochs), peak resident memory and the ratios.
Then times a training step of the book's pipeline with the book's `cross_entropy` and
with `F.cross_entropy`, interleaved, in a process of its own; then one strict nbval
pass per chapter and the whole book in one run, with each kernel's peak memory. Prints
the budgets as PASS/FAIL lines (the step-time ratio, every chapter's memory) and the
other measurements as INFO lines.

    python benchmarks/bench.py                      # everything, a few minutes
    python benchmarks/bench.py --no-notebooks       # pipelines and step ratio only
    python benchmarks/bench.py --json out.json      # also write the report (- for stdout)
    python benchmarks/bench.py --check              # exit 1 if a budget fails
    python benchmarks/bench.py --threads 1          # one torch thread in the pipelines
    python benchmarks/bench.py --profile book       # pyinstrument profile of one epoch
"""
import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
PIPELINES = harness.PIPELINES


def run_worker(name, epochs, warmup, limit, threads=None):
    """Run one pipeline in a fresh process; return its result dict."""
    cmd = [sys.executable, str(HERE / 'bench.py'), '--worker', name,
           '--epochs', str(epochs), '--warmup', str(warmup)]
    if limit is not None:
        cmd += ['--limit', str(limit)]
    if threads is not None:
        cmd += ['--threads', str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=harness.ROOT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'pipeline {name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def run_step_worker(batches, repeats, threads):
    """Time the training step with both losses in a fresh process; return its dict."""
    cmd = [sys.executable, str(HERE / 'bench.py'), '--step-worker',
           '--step-batches', str(batches), '--step-repeats', str(repeats),
           '--threads', str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=harness.ROOT)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f'the step-ratio worker failed ({proc.returncode}):\n'
                           f'{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def worker_main(args):
    import pipelines
    print(json.dumps(pipelines.run(args.worker, args.epochs, args.warmup, args.limit,
                                   args.threads)))
    return 0


def step_worker_main(args):
    import pipelines
    print(json.dumps(pipelines.step_times(args.step_batches, args.step_repeats,
                                          args.threads)))
    return 0


def profile_main(args):
    """Profile one training epoch and one evaluation of a pipeline (after a warm-up)."""
    import pipelines
    from pyinstrument import Profiler
    train_one_epoch, evaluate = pipelines.build(args.profile, args.limit)
    train_one_epoch(), evaluate()
    profiler = Profiler(interval=0.0005)
    with profiler:
        train_one_epoch()
        evaluate()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    return 0


def bench(epochs, warmup, limit=None, standard_epochs=None, notebooks=True,
          threads=None, step_batches=200, step_repeats=75, log=print):
    """Run the whole benchmark; return the report dict."""
    report = {'date': datetime.date.today().isoformat(), 'machine': harness.machine(),
              'load_before': harness.load_average(),
              'recipe': {'batch_size': 32, 'lr': 0.1, 'manual_seed': 0,
                         'image_size': [28, 28], 'warmup_epochs': warmup,
                         'measured_epochs': epochs,
                         'standard_measured_epochs': standard_epochs or epochs,
                         'limit': limit, 'torch_threads': threads or 'default'},
              'pipelines': {}}
    for name in PIPELINES:
        n = standard_epochs if name == 'standard' and standard_epochs else epochs
        log(f'pipeline {name}: {warmup} warm-up + {n} measured epochs ...')
        result = harness.summarize(run_worker(name, n, warmup, limit, threads))
        report['pipelines'][name] = result
        log(f"  train {result['train_median_s']:.3f} s, eval {result['eval_median_s']:.3f} s "
            f"per epoch (median), peak {result['peak_rss_mb']:.0f} MB")
    report['ratios'] = harness.ratios(report['pipelines'])
    # The chapters train with one torch thread; so does this measurement, unless told.
    step_threads = threads or 1
    log(f'training step, book loss vs F.cross_entropy: {step_batches} batches, '
        f'{step_repeats} interleaved rounds, {step_threads} torch thread(s) ...')
    step = harness.summarize_step_ratio(
        run_step_worker(step_batches, step_repeats, step_threads))
    report['step_ratio'] = step
    log(f"  {step['median_book_s'] * 1e6:.0f} vs {step['median_torch_s'] * 1e6:.0f} "
        f"microseconds per step (median), median ratio of the rounds {step['ratio']:.3f}")
    if notebooks:
        log('notebooks (one strict nbval pass each, then the whole book):')
        report['notebooks'] = harness.time_notebooks(harness.chapters_in_order())
    report['load_after'] = harness.load_average()
    report['budgets'] = harness.evaluate_budgets(report)
    report['info'] = harness.info(report)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--epochs', type=int, default=5,
                        help='measured epochs per in-memory pipeline (default 5)')
    parser.add_argument('--standard-epochs', type=int, default=3,
                        help='measured epochs of the slow standard pipeline (default 3)')
    parser.add_argument('--warmup', type=int, default=1, help='warm-up epochs (default 1)')
    parser.add_argument('--limit', type=int, default=None,
                        help='use only the first N examples of each split (smoke tests)')
    parser.add_argument('--threads', type=int, default=None,
                        help="torch intra-op threads in the pipelines (default: torch's)")
    parser.add_argument('--step-batches', type=int, default=200,
                        help='batches per round of the step-ratio measurement (default 200)')
    parser.add_argument('--step-repeats', type=int, default=75,
                        help='interleaved rounds of the step-ratio measurement (default 75)')
    parser.add_argument('--no-notebooks', action='store_true',
                        help='skip timing the chapters with nbval')
    parser.add_argument('--json', metavar='PATH', help='write the report as JSON (- for stdout)')
    parser.add_argument('--check', action='store_true', help='exit 1 if a budget fails')
    parser.add_argument('--worker', choices=PIPELINES, help=argparse.SUPPRESS)
    parser.add_argument('--step-worker', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--profile', choices=PIPELINES,
                        help='print a pyinstrument profile of one epoch of a pipeline')
    args = parser.parse_args(argv)
    if (args.epochs < 1 or args.standard_epochs < 1 or args.warmup < 0
            or args.step_batches < 1 or args.step_repeats < 1):
        parser.error('--epochs, --standard-epochs, --step-batches and --step-repeats '
                     'must be at least 1, --warmup at least 0')
    if args.worker:
        return worker_main(args)
    if args.step_worker:
        return step_worker_main(args)
    if args.profile:
        return profile_main(args)

    # With --json -, stdout carries only the JSON; progress and the table go to stderr.
    out = sys.stderr if args.json == '-' else sys.stdout
    log = lambda *a: print(*a, file=out, flush=True)  # noqa: E731
    report = bench(args.epochs, args.warmup, args.limit, args.standard_epochs,
                   notebooks=not args.no_notebooks, threads=args.threads,
                   step_batches=args.step_batches, step_repeats=args.step_repeats,
                   log=log)
    m = report['machine']
    log('')
    log(f"{report['date']}, {m['nproc']} CPUs ({m['cpu_model']}), torch {m['torch']}, "
        f"{report['recipe']['torch_threads']} torch threads; load average (1, 5, 15 min) "
        f"{report['load_before']} before, {report['load_after']} after")
    if max(report['load_before'][0], report['load_after'][0]) > m['nproc'] / 2:
        log('NOTE: the machine was busy (load average above half its CPUs). With more than '
            'one torch thread, each tiny matrix product then waits for a descheduled '
            'thread: timings below can be many times the quiet ones. Rerun on a quiet '
            'machine, or compare with --threads 1.')
    log(harness.table(report))
    log('')
    for line in harness.budget_lines(report['budgets']) + harness.info_lines(report['info']):
        log(line)
    if args.json:
        text = json.dumps(report, indent=2)
        if args.json == '-':
            print(text)
        else:
            Path(args.json).write_text(text + '\n')
    failed = any(b['passed'] is False for b in report['budgets'])
    return 1 if args.check and failed else 0


if __name__ == '__main__':
    sys.exit(main())
