"""tools/export.py: the package is what the chapters define, and nothing else."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import export  # noqa: E402


def test_package_matches_the_chapters(capsys):
    assert export.main(['--check']) == 0, capsys.readouterr().out


def write_book(root, cells, module_text):
    (root / 'chapters').mkdir()
    (root / 'd2l_utils').mkdir()
    (root / '_toc.yml').write_text(
        'format: jb-book\nroot: intro\nchapters:\n  - file: chapters/one\n')
    nb = {'cells': [{'cell_type': 'code', 'source': source, 'metadata': {},
                     'outputs': [], 'execution_count': None} for source in cells],
          'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (root / 'chapters' / 'one.ipynb').write_text(json.dumps(nb))
    (root / 'd2l_utils' / 'mod.py').write_text(module_text)


MODULE = f'"""doc"""\nimport math\n\n__all__ = []\n\n{export.BEGIN} ----\n{export.END}\n'


def test_cells_are_spliced_between_the_markers(tmp_path):
    write_book(tmp_path, ['#@save mod\ndef area(r):\n    return math.pi * r * r\n',
                          'print(area(1))', '#@save mod\nUNIT = 1\n'], MODULE)
    (path, text), = export.expected_modules(tmp_path).items()
    namespace = {}
    exec(compile(text, str(path), 'exec'), namespace)
    assert namespace['__all__'] == ['area', 'UNIT']
    assert namespace['area'](1) == pytest.approx(3.14159, rel=1e-5)
    assert '# From chapters/one.ipynb' in text and 'print(area(1))' not in text
    assert text.startswith('"""doc"""\nimport math\n') and text.endswith(f'{export.END}\n')


def test_a_saved_cell_must_only_define(tmp_path):
    write_book(tmp_path, ['#@save mod\nx = 1\nprint(x)\n'], MODULE)
    with pytest.raises(ValueError, match='may hold only definitions.*Expr on line 2'):
        export.expected_modules(tmp_path)


def test_a_module_without_markers_is_an_error(tmp_path):
    write_book(tmp_path, ['#@save other\nx = 1\n'], MODULE)
    with pytest.raises(ValueError, match=r"modules without a generated section: \['other'\]"):
        export.expected_modules(tmp_path)
