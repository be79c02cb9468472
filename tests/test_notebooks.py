"""The stored chapters: clean metadata, exportable as scripts, and the nbval contract.

`make nbval` re-executes every chapter and compares each output with the stored one:
exactly, through the figure sanitizer tests/nbval-sanitize.cfg, or not at all for a cell
marked `# NBVAL_IGNORE_OUTPUT` (training results and timings, which the chapter asserts
instead). These tests check the stored side of that contract without running anything.
"""
import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbconvert import ScriptExporter
from nbval.plugin import get_sanitize_patterns

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))
import execute  # noqa: E402  (tools/execute.py, which stores the chapters)

CHAPTERS = sorted((REPO / 'chapters').glob('*.ipynb'))
SANITIZER = REPO / 'tests' / 'nbval-sanitize.cfg'
IGNORE = '# NBVAL_IGNORE_OUTPUT'


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == 'code']


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_metadata_is_clean(path):
    """Stored as `make execute` stores it: no timestamps, no personal metadata."""
    nb = read(path)
    assert (json.dumps(execute.clean(read(path)), sort_keys=True)
            == json.dumps(nb, sort_keys=True)), (
        f'{path.name} has metadata that tools/execute.py strips: run '
        '`.venv/bin/python tools/execute.py --clean-only` on it')


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_exports_as_a_python_script(path):
    """`jupyter nbconvert --to script` writes NAME.py (it needs `file_extension`)."""
    body, resources = ScriptExporter().from_notebook_node(read(path))
    assert resources['output_extension'] == '.py'
    compile(re.sub(r'^\s*[%!].*$', '', body, flags=re.MULTILINE), path.name, 'exec')


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_executed_in_order_without_errors(path):
    cells = code_cells(read(path))
    counts = [cell.execution_count for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), f'execution counts {counts}'
    errors = [i for i, cell in enumerate(cells)
              for out in cell.outputs if out.output_type == 'error']
    assert not errors, f'code cells {errors} store an error'


@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.name)
def test_ignored_outputs_say_why(path):
    """nbval needs the marker alone on the first line; the next line says why."""
    for i, cell in enumerate(code_cells(read(path))):
        lines = cell.source.splitlines()
        if not any(IGNORE in line for line in lines):
            continue
        assert lines[0] == IGNORE, (
            f'code cell {i}: the marker must be the whole first line, got {lines[0]!r}')
        assert len(lines) > 1 and lines[1].startswith('#') and len(lines[1]) > 10, (
            f'code cell {i}: the second line must be a comment saying why the output '
            'is not compared')


# ---- the figure sanitizer ----

def sanitize(text):
    for regex, replace in get_sanitize_patterns(SANITIZER.read_text()):
        text = re.sub(regex, replace, text)
    return text


SVG = '''<svg width="{w}pt" height="180.5pt" viewBox="0 0 {w} 180.5">
 <g id="line2d_1">
  <path d="M 10.{a} 20.5 L 30.1 {b}" clip-path="url(#p{h}abcdef01)" style="stroke: #1f77b4"/>
 </g>
 <g id="text_1">
  <!-- {label} -->
  <g transform="translate({a}.2 4.5) scale(0.1 -0.1)">
   <use xlink:href="#DejaVuSans-30"/>
  </g>
 </g>
 <image xlink:href="data:image/png;base64,iVBOR{img}w0KGgo=" id="image{h}abcdef01"/>
 <clipPath id="p{h}abcdef01"><rect x="{a}.5" y="7.2" width="3" height="4"/></clipPath>
</svg>'''


def svg(w='300.1', a='1', b='40.25', h='12', label='val acc', img='AAAA'):
    return SVG.format(w=w, a=a, b=b, h=h, label=label, img=img)


def test_sanitizer_every_pattern_is_commented():
    text = SANITIZER.read_text()
    patterns = get_sanitize_patterns(text)
    assert len(patterns) >= 4
    for regex, _ in patterns:
        index = text.index(f'regex: {regex}')
        before = text[:index].rstrip('\n').splitlines()
        assert before[-1].startswith('[') and before[-2].startswith('#'), (
            f'the pattern {regex!r} has no comment above it')


def test_sanitizer_forgets_coordinates_hashes_and_pixels():
    """What differs in the last bits between CPUs compares equal after sanitizing."""
    other_cpu = svg(w='300.2', a='3', b='40.26', h='9f', img='BBBBCCCC')
    assert svg() != other_cpu
    assert sanitize(svg()) == sanitize(other_cpu)


@pytest.mark.parametrize('change', [
    {'label': 'test acc'},                       # a changed text or tick label
])
def test_sanitizer_keeps_text(change):
    assert sanitize(svg()) != sanitize(svg(**change))


def test_sanitizer_keeps_structure():
    """A missing curve (one element less) still fails the comparison."""
    one_curve_less = re.sub(r' <g id="line2d_1">.*?</g>\n', '', svg(), flags=re.DOTALL)
    assert sanitize(svg()) != sanitize(one_curve_less)


def test_sanitizer_leaves_printed_numbers_alone():
    """Text outputs are compared exactly: the patterns only touch SVG attributes."""
    printed = 'train loss 0.3864, val accuracy 0.8368\nW (784, 10) width 28 x=3\n'
    assert sanitize(printed) == printed


def test_merge_streams_keeps_text_on_either_side_of_a_figure():
    new = nbformat.v4.new_output
    outputs = [new('stream', name='stdout', text='a\n'), new('stream', name='stdout', text='b\n'),
               new('stream', name='stderr', text='warning\n'),
               new('display_data', data={'text/plain': '<Figure>'}),
               new('stream', name='stdout', text='c\n'), new('stream', name='stdout', text='d\n')]
    merged = execute.merge_streams(outputs)
    assert [(o.output_type, o.get('name'), o.get('text')) for o in merged] == [
        ('stream', 'stdout', 'a\nb\n'), ('stream', 'stderr', 'warning\n'),
        ('display_data', None, None), ('stream', 'stdout', 'c\nd\n')]
