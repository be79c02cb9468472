"""Execute chapters top to bottom and store them clean: `make execute`.

Each notebook runs in a fresh kernel from its own folder (as Jupyter, nbval and the
book build run it), then is written back with its outputs and with only the metadata
a reader needs: no timestamps, no personal paths, execution counts 1, 2, 3, ...,
and printed text that arrived in pieces merged into one output (`merge_streams`).
A notebook that raises is not written, so a stored chapter never holds an error.

    python tools/execute.py chapters/softmax.ipynb [more.ipynb ...]
    python tools/execute.py --clean-only chapters/*.ipynb
"""
import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

KERNELSPEC = {'display_name': 'Python 3 (ipykernel)', 'language': 'python',
              'name': 'python3'}
# What Jupyter and nbconvert need to know of the language: `file_extension` makes
# `jupyter nbconvert --to script` write a .py file (without it, a .txt).
LANGUAGE_INFO = {'name': 'python', 'file_extension': '.py', 'mimetype': 'text/x-python',
                 'nbconvert_exporter': 'python', 'pygments_lexer': 'ipython3',
                 'codemirror_mode': {'name': 'ipython', 'version': 3}}
KEPT_CELL_METADATA = ('tags',)


def merge_streams(outputs):
    """Return `outputs` with each run of adjacent same-stream outputs merged into one.

    The kernel sends a cell's printed text in pieces, split wherever the cell computed
    between two prints; stored as they come, they show as separate boxes. Only
    adjacent pieces are merged, so text printed before and after a figure stays on
    either side of it.
    """
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == 'stream' and previous is not None
                and previous.output_type == 'stream' and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def clean(nb):
    """Strip volatile metadata and merge split printed text, in place; return nb."""
    nb.metadata = nbformat.from_dict({
        'kernelspec': KERNELSPEC,
        'language_info': LANGUAGE_INFO,
    })
    for cell in nb.cells:
        cell.metadata = nbformat.from_dict(
            {k: v for k, v in cell.metadata.items() if k in KEPT_CELL_METADATA})
        if cell.cell_type == 'code':
            cell.outputs = merge_streams(cell.outputs)
    return nb


def execute(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return clean(nb), time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('notebooks', nargs='+', type=Path)
    parser.add_argument('--clean-only', action='store_true',
                        help='do not execute; only strip metadata')
    parser.add_argument('--timeout', type=int, default=600, help='seconds per cell')
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.clean_only:
            nb, seconds = clean(nbformat.read(path, as_version=4)), 0.0
        else:
            nb, seconds = execute(path, args.timeout)
        nbformat.write(nb, path)
        print(f'{path}: {"cleaned" if args.clean_only else f"executed in {seconds:.1f} s"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
