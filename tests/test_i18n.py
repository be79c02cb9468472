"""The Chinese edition's catalogs cannot drift from the English text, and the tools work.

The drift check: the English messages of every page in `_toc.yml` are extracted afresh
(Sphinx's gettext builder, a few seconds) and compared with the committed catalogs in
`locales/zh_CN/LC_MESSAGES/`. A message that is untranslated, fuzzy (its English
changed since it was translated), or not in its catalog at all (the English changed
and `python tools/i18n.py update` was not run) fails the test of that catalog, which
names the file, the counts and the first messages; so a change to the English text
has to carry its translation in the same commit. Every translation must keep the
roles, code spans, math and link targets of its English message verbatim. When both
editions are built, every code cell and output of a Chinese page is the English one's.

The tools are then exercised on a tiny synthetic book (a page and a notebook chapter
with math, a cross reference, an exercise, code and its output): extraction, update
(translations kept, changed English marked fuzzy), the Chinese build (text translated,
code and outputs identical to the English build's), and bad input: a translation that
breaks a cross reference, a missing catalog.
"""
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import browser_check as bc
import nbformat
import pytest
from sphinx_intl.catalog import dump_po, load_po

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))
import i18n  # noqa: E402

CATALOGS = i18n.catalog_names(REPO)
SHOWN = 5  # untranslated messages quoted in a failure


# ------------------------------------------------------------- the book's catalogs

@pytest.fixture(scope='module')
def states(tmp_path_factory):
    """Each catalog of the book compared with a fresh extraction of the English."""
    found = i18n.report(REPO, tmp_path_factory.mktemp('pot'))
    return {state.name: state for state in found}


@pytest.mark.parametrize('name', CATALOGS)
def test_catalog_translates_the_english(name, states):
    state = states[name]
    if not state.exists:
        pytest.fail(state.summary(REPO), pytrace=False)
    gaps = state.untranslated + state.fuzzy + state.missing
    if gaps:
        pytest.fail(f'{state.summary(REPO)}. Translate them in '
                    f'{i18n._shown(state.path, REPO)} (after `python tools/i18n.py update` '
                    'if the English changed); the first:\n'
                    + '\n'.join(f'  {i18n._short(m, 90)}' for m in gaps[:SHOWN]),
                    pytrace=False)


@pytest.mark.parametrize('name', CATALOGS)
def test_translations_keep_markup(name, states):
    state = states[name]
    broken = [f'  {i18n._short(msgid, 70)} lacks {lost}' for msgid, lost in state.broken]
    if broken:
        pytest.fail(f'{i18n._shown(state.path, REPO)}: translations that drop a role, code '
                    'span, math or link target of the English:\n' + '\n'.join(broken),
                    pytrace=False)


def test_both_editions_show_the_same_code_and_outputs():
    """Every code cell and output of the built Chinese edition is the English one's."""
    english = REPO / '_build' / 'html'
    chinese = english / 'zh'
    if not (english / 'index.html').exists() or not (chinese / 'index.html').exists():
        reason = f'no built editions in {english} and {chinese}: run `make book book-zh`'
        if bc.strict():
            pytest.fail(f'{reason} ({bc.strict()} is set, so this is a failure)')
        pytest.skip(reason)
    differ = []
    for page in i18n.book_pages(REPO):
        if (REPO / f'{page}.ipynb').exists():
            html = [(folder / f'{page}.html').read_text(encoding='utf-8')
                    for folder in (english, chinese)]
            if cells(html[0]) != cells(html[1]):
                differ.append(page)
    assert not differ, f'code cells or outputs differ between the editions: {differ}'


def test_no_catalog_without_a_page():
    stale = i18n.stale_catalogs(REPO)
    assert not stale, f'catalogs whose page is not in _toc.yml (git rm them): {stale}'


# ------------------------------------------------------------- pure functions

def test_markup_spans():
    text = ('See {eq}`ce-lse` and {doc}`softmax`, where `torch.softmax(x)` gives '
            '$\\hat{y}_j$ and $$a = b$$ holds; [the paper](https://example.org/p).')
    assert i18n.markup(text) == ['{eq}`ce-lse`', '{doc}`softmax`', '`torch.softmax(x)`',
                                 '$\\hat{y}_j$', '$$a = b$$', '](https://example.org/p)']


def test_lost_markup():
    msgid = 'From {eq}`softmax-def` follow $q$ properties of `softmax`.'
    assert i18n.lost_markup(msgid, '由 {eq}`softmax-def` 可得 `softmax` 的 $q$ 条性质。') == []
    assert i18n.lost_markup(msgid, '由 {eq}`softmax-dfe` 可得 `softmax` 的 q 条性质。') == [
        '{eq}`softmax-def`', '$q$']
    assert i18n.lost_markup('© Copyright %(copyright)s.', '© 版权所有 %(year)s。') == [
        '%(copyright)s']


# ------------------------------------------------------------- a tiny book

CONFIG = """\
title: A tiny book
author: Someone
only_build_toc_files: true
exclude_patterns: [_build]
execute:
  execute_notebooks: "off"
parse:
  myst_enable_extensions: [amsmath, dollarmath, colon_fence]
sphinx:
  extra_extensions: [sphinx_exercise]
"""
TOC = """\
format: jb-book
root: intro
parts:
  - caption: Chapters
    chapters:
      - file: chapters/ch
"""
INTRO = """\
# A tiny book

It has one chapter, {doc}`chapters/ch`.
"""
CHAPTER_TEXT = [
    '# Logits\n\nA model gives scores $o_j$, called logits.',
    textwrap.dedent("""\
        $$
        \\hat{y}_j = \\frac{\\exp(o_j)}{\\sum_k \\exp(o_k)}
        $$ (tiny-softmax)

        The softmax {eq}`tiny-softmax` turns them into probabilities."""),
    textwrap.dedent("""\
        :::{exercise}
        :label: tiny-ex

        Compute the softmax of `[1, 2]` by hand.
        :::"""),
]
CODE = 'import math\nprint(round(math.exp(1) / (math.exp(1) + math.exp(2)), 4))'
OUTPUT = '0.2689\n'
TRANSLATIONS = {
    'A tiny book': '一本小书',
    'It has one chapter, {doc}`chapters/ch`.': '它只有一章：{doc}`chapters/ch`。',
    'Chapters': '各章',
    'Logits': 'Logit',
    'A model gives scores $o_j$, called logits.': '模型给出分数 $o_j$，称为 logit。',
    'The softmax {eq}`tiny-softmax` turns them into probabilities.':
        'softmax {eq}`tiny-softmax` 把它们变成概率。',
    'Compute the softmax of `[1, 2]` by hand.': '手算 `[1, 2]` 的 softmax。',
    'Someone': '某人',
    **{label: f'{label}（中文）' for label in i18n.CHROME_STRINGS},
}


def write_chapter(book, text=CHAPTER_TEXT):
    """Write the tiny book's notebook chapter: markdown cells, one code cell with output."""
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3',
                                 'language': 'python'}
    nb.cells = [nbformat.v4.new_markdown_cell(t) for t in text]
    code = nbformat.v4.new_code_cell(CODE, execution_count=1)
    code.outputs = [nbformat.v4.new_output('stream', name='stdout', text=OUTPUT)]
    nb.cells.insert(1, code)
    nbformat.write(nb, book / 'chapters' / 'ch.ipynb')


def make_book(folder):
    """Write a tiny Jupyter Book: an intro page and one notebook chapter, no catalogs."""
    (folder / 'chapters').mkdir(parents=True)
    (folder / '_config.yml').write_text(CONFIG, encoding='utf-8')
    (folder / '_toc.yml').write_text(TOC, encoding='utf-8')
    (folder / 'intro.md').write_text(INTRO, encoding='utf-8')
    write_chapter(folder)
    return folder


def tool(name, *args, book):
    """Run tools/NAME.py with `args` on the tiny book; return (exit status, output)."""
    done = subprocess.run([sys.executable, str(REPO / 'tools' / f'{name}.py'), *args,
                           '--source', str(book)], capture_output=True, text=True)
    return done.returncode, done.stdout + done.stderr


def translate(book, translations):
    """Fill the tiny book's catalogs with `translations` (English -> Chinese)."""
    for path in i18n.catalog_root(book).rglob('*.po'):
        catalog = load_po(str(path))
        for message in catalog:
            if message.id in translations:
                message.string = translations[message.id]
                message.flags.discard('fuzzy')
        dump_po(str(path), catalog)


def messages(path):
    """Return {msgid: message} of a catalog, the header left out."""
    return {m.id: m for m in i18n.load_catalog(path) if m.id}


@pytest.fixture(scope='module')
def translated(tmp_path_factory):
    """The tiny book after `tools/i18n.py update` (templates in _build/gettext) and
    with every message translated."""
    book = make_book(tmp_path_factory.mktemp('tiny') / 'book')
    status, out = tool('i18n', 'update', book=book)
    assert status == 0, out
    assert out.count('created') == 3, out
    translate(book, TRANSLATIONS)
    return book


@pytest.fixture
def book(translated, tmp_path):
    """A copy of the translated tiny book that a test may change."""
    return Path(shutil.copytree(translated, tmp_path / 'book'))


def state_of(book, name):
    """Compare one catalog of the tiny book with the templates of its last extraction."""
    pot = book / '_build' / 'gettext' / f'{name}.pot'
    return i18n.compare(pot, i18n.catalog_root(book) / f'{name}.po', name)


def test_extract_one_template_per_page(translated):
    found = i18n.templates(translated / '_build' / 'gettext')
    assert sorted(found) == ['book', 'chapters/ch', 'intro']
    chapter = [m.id for m in load_po(str(found['chapters/ch'])) if m.id]
    assert chapter == ['Logits', 'A model gives scores $o_j$, called logits.',
                       'The softmax {eq}`tiny-softmax` turns them into probabilities.',
                       'Compute the softmax of `[1, 2]` by hand.'], (
        'display math and code must not be messages')
    assert 'A tiny book' in [m.id for m in load_po(str(found['book']))]
    assert 'Chapters' in [m.id for m in load_po(str(found['intro']))], 'the part caption'
    assert all(state_of(translated, name).complete for name in found)


def test_update_keeps_translations_and_marks_changes_fuzzy(book):
    changed = [CHAPTER_TEXT[0].replace('called logits', 'the logits'),
               *CHAPTER_TEXT[1:], 'A new paragraph.']
    write_chapter(book, changed)
    status, out = tool('i18n', 'update', book=book)
    assert status == 0 and 'updated    locales/zh_CN/LC_MESSAGES/chapters/ch.po' in out, out
    chapter = i18n.catalog_root(book) / 'chapters' / 'ch.po'
    found = messages(chapter)
    new_english = 'A model gives scores $o_j$, the logits.'
    assert found[new_english].fuzzy, 'a changed message must become fuzzy'
    assert found[new_english].string == '模型给出分数 $o_j$，称为 logit。'
    assert found[new_english].previous_id == ['A model gives scores $o_j$, called logits.']
    assert found['A new paragraph.'].string == ''
    assert not found['Logits'].fuzzy and found['Logits'].string == 'Logit'
    pot = book / '_build' / 'gettext' / 'chapters' / 'ch.pot'
    assert i18n.update_catalog(pot, chapter, 'chapters/ch') == 'unchanged', 'idempotent'

    status, out = tool('i18n', 'check', book=book)
    assert status == 1, out
    assert re.search(r'chapters/ch\.po: 3 of 5 translated, 1 untranslated, 1 fuzzy', out), out


def test_chinese_build_translates_text_and_keeps_code_and_outputs(book):
    for edition in ('en', 'zh'):
        status, out = tool('editions', 'html', edition, book=book)
        assert status == 0, out
    english = (book / '_build/html/chapters/ch.html').read_text(encoding='utf-8')
    chinese = (book / '_build/html/zh/chapters/ch.html').read_text(encoding='utf-8')
    assert '<html lang="zh-CN"' in chinese
    for text in ('模型给出分数', '手算', '把它们变成概率', '各章', '一本小书'):
        assert text in chinese, f'{text!r} missing from the Chinese page'
    assert 'called logits' not in chinese
    assert len(cells(english)) == 1 and OUTPUT.strip() in cells(english)[0]
    assert cells(english) == cells(chinese), (
        'code cells and outputs must be the same in both editions')
    assert 'equation-tiny-softmax' in chinese, 'the labelled equation keeps its anchor'


def cells(page):
    """Return the HTML of each code cell (input and output) of a built page.

    The label of a folded cell (<summary>: "Show code cell source") is left out: it is
    the page's chrome, translated like the rest of it.
    """
    page = re.sub(r'<summary\b.*?</summary>', '', page, flags=re.DOTALL)
    found = []
    for start in [m.start() for m in re.finditer(r'<div class="cell[ "]', page)]:
        depth = 0
        for tag in re.finditer(r'<div\b|</div>', page[start:]):
            depth += 1 if tag.group() == '<div' else -1
            if depth == 0:
                found.append(page[start:start + tag.end()])
                break
    return found


def test_link_text_of_a_role_may_be_translated():
    """{ref}`text <label>`: the text is prose; the role and the label must stay."""
    msgid = 'See {ref}`the sum and the mean <ce-sum-vs-mean>`.'
    assert i18n.lost_markup(msgid, '见{ref}`求和与求平均 <ce-sum-vs-mean>`。') == []
    assert i18n.lost_markup(msgid, msgid) == []
    for broken in ('见{ref}`求和与求平均 <ce-sum-vs-men>`。', '见{doc}`求和 <ce-sum-vs-mean>`。',
                   '见{ref}`ce-sum-vs-mean`。', '见求和与求平均。'):
        assert i18n.lost_markup(msgid, broken) == [
            '{ref}`the sum and the mean <ce-sum-vs-mean>`'], broken


def test_broken_cross_reference_is_caught(book):
    english = 'The softmax {eq}`tiny-softmax` turns them into probabilities.'
    translate(book, {english: 'softmax 公式把它们变成概率。'})
    state = state_of(book, 'chapters/ch')
    assert state.broken == [(english, ['{eq}`tiny-softmax`'])]
    assert state.summary(book) == ('locales/zh_CN/LC_MESSAGES/chapters/ch.po: '
                                   '4 of 4 translated, 1 with broken markup')
    status, out = tool('editions', 'html', 'zh', book=book)
    assert status != 0 and 'inconsistent' in out, (
        'Sphinx itself must refuse a translation that drops a reference:\n' + out)


def test_missing_catalog_is_reported_and_the_page_stays_english(book):
    (i18n.catalog_root(book) / 'chapters' / 'ch.po').unlink()
    state = state_of(book, 'chapters/ch')
    assert not state.exists and not state.complete
    assert state.summary(book) == (
        'locales/zh_CN/LC_MESSAGES/chapters/ch.po: missing (4 English messages); '
        'create it with `python tools/i18n.py update`')
    status, out = tool('editions', 'html', 'zh', book=book)
    assert status == 0, out
    chinese = (book / '_build/html/zh/chapters/ch.html').read_text(encoding='utf-8')
    assert 'called logits' in chinese and '一本小书' in chinese


def test_unknown_edition_says_which_exist():
    import editions

    with pytest.raises(SystemExit, match=r"unknown edition 'fr': expected one of \['en', 'zh'\]"):
        editions.edition('fr')
