"""tools/toc.py: the one reader of _toc.yml."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))
import toc  # noqa: E402

TOC = '''format: jb-book
root: intro
parts:
  - caption: Main
    chapters:
      - file: chapters/one.ipynb
      - file: chapters/two
        sections:
          - file: chapters/two_a
  - caption: Appendix
    chapters:
      - file: chapters/extra
        sections:
          - file: chapters/extra_a.md
  - caption: Back matter
    chapters:
      - file: references
'''


def test_pages_in_reading_order(tmp_path):
    (tmp_path / '_toc.yml').write_text(TOC)
    assert toc.pages(tmp_path / '_toc.yml') == [
        'intro', 'chapters/one', 'chapters/two', 'chapters/two_a', 'chapters/extra',
        'chapters/extra_a', 'references']


def test_pages_of_a_part(tmp_path):
    (tmp_path / '_toc.yml').write_text(TOC)
    assert toc.part_pages(tmp_path / '_toc.yml', 'Appendix') == [
        'chapters/extra', 'chapters/extra_a']
    assert toc.part_pages(tmp_path / '_toc.yml', 'Nowhere') == []


def test_chapters_without_parts(tmp_path):
    (tmp_path / '_toc.yml').write_text(
        'format: jb-book\nroot: index\nchapters:\n  - file: a\n    sections:\n'
        '      - file: b\n  - file: c\n')
    assert toc.pages(tmp_path / '_toc.yml') == ['index', 'a', 'b', 'c']


def test_the_book_lists_every_chapter():
    listed = set(toc.pages(REPO / '_toc.yml'))
    assert {f'chapters/{p.stem}' for p in (REPO / 'chapters').glob('*.ipynb')} <= listed
