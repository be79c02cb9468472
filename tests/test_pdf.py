"""The PDF of each edition (`make pdf`), read back with PDFium (pypdfium2).

For each edition the test opens `_build/pdf/softmax-regression-EDITION.pdf` and
asserts: a sane number of pages and a PDF outline (bookmarks); the text extracts, and
holds the title of every page of `_toc.yml` (in Chinese where the catalogs translate
it) and the body of every solution of the book (so solutions were opened before
printing); no TeX source is left in it outside the code (math that MathJax did not
typeset would show as `\\frac`, `$$`, `\\(`, ...); and, for the Chinese edition, no
CJK radical stands in for a common character (see tools/pdf.py, fix_cjk_text).

Without the PDFs, a plain `pytest tests` skips and says why; with MAKE_TEST or CI set
(`make test` builds them first) it fails.
"""
import html.parser
import json
import re
import sys
import unicodedata
from pathlib import Path

import browser_check as bc
import pytest
from sphinx_intl.catalog import load_po

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))
import editions  # noqa: E402
import i18n  # noqa: E402
import pdf  # noqa: E402

BUILD = REPO / '_build'
# A chapter takes several pages; a stub page of the book at least one.
MIN_PAGES_PER_BOOK_PAGE = 3
# TeX that only prose can hold: display math delimiters, the \( \) \[ \] that Sphinx
# wraps math in, environments, the commonest macros, and MyST roles or fences left
# unparsed. Code cells may hold TeX in strings (plot labels): their lines are exempt.
RAW_TEX = re.compile(r'\$\$|\\(?:frac|begin\{|end\{|mathbf|operatorname|sum_|[\[\]()])'
                     r'|\{(?:eq|doc|cite|ref|numref)\}`|^:::', re.MULTILINE)


def _missing(reason):
    """Fail under `make test`/CI, skip (with the reason) for a plain `pytest tests`."""
    if bc.strict():
        pytest.fail(f'{reason} ({bc.strict()} is set, so this is a failure)')
    pytest.skip(f'{reason}; set MAKE_TEST=1 to make this a failure')


def squeeze(text):
    """Return text without whitespace, in NFKC form (ligatures such as ﬁ become fi).

    The extracted text breaks lines where the page did and spaces runs of text as it
    can; without whitespace, a sentence of the book and its extracted text compare equal.
    """
    return re.sub(r'\s+', '', unicodedata.normalize('NFKC', text))


@pytest.fixture(scope='module', params=sorted(editions.EDITIONS))
def edition(request):
    return editions.EDITIONS[request.param]


@pytest.fixture(scope='module')
def document(edition):
    """The edition's PDF: (path, titles of its outline, text of every page).

    PDFium reads the text of a hundred pages in about a second (pypdf, which writes
    the PDF's character maps in tools/pdf.py, takes about fifteen).
    """
    import pypdfium2

    path = BUILD / 'pdf' / pdf.PDF_NAME.format(edition=edition.name)
    if not path.is_file():
        _missing(f'no PDF of the {edition.label} edition at {path}: run `make pdf`')
    document = pypdfium2.PdfDocument(str(path))
    try:
        outline = [item.get_title() for item in document.get_toc()]
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
    finally:
        document.close()
    return path, outline, texts


def test_pages_and_outline(document):
    path, outline, texts = document
    minimum = MIN_PAGES_PER_BOOK_PAGE * len(bc.toc_pages())
    assert len(texts) >= minimum, (
        f'{path.name}: {len(texts)} pages, expected at least {minimum} '
        f'({MIN_PAGES_PER_BOOK_PAGE} per page of _toc.yml)')
    assert outline, f'{path.name} has no outline (bookmarks)'


def test_titles_of_every_page(document, edition):
    path, _, texts = document
    text = squeeze(''.join(texts))
    assert len(text) > 1000, f'{path.name}: almost no extractable text ({len(text)} characters)'
    missing = [title for title in page_titles(edition) if squeeze(title) not in text]
    assert not missing, f'{path.name}: page titles not found in its text: {missing}'


def test_solutions_are_printed(document, edition):
    path, _, texts = document
    source = BUILD / 'singlehtml' / edition.name
    starts = solution_starts(source / pdf.root_page(source))
    assert starts, f'no solutions found in the singlehtml build {source}'
    text = squeeze(''.join(texts))
    hidden = [s for s in starts if squeeze(s) not in text]
    assert not hidden, (f'{path.name}: {len(hidden)} of {len(starts)} solutions missing '
                        f'(closed when printed?), beginning: {hidden[:3]}')


def test_no_raw_tex(document):
    path, _, texts = document
    code = code_lines()
    left = []
    for number, text in enumerate(texts, 1):
        for line in text.splitlines():
            if RAW_TEX.search(line) and not any(squeeze(line) in c or c in squeeze(line)
                                                for c in code if c):
                left.append(f'page {number}: {line.strip()[:100]}')
    assert not left, f'{path.name}: TeX or MyST source left in the text:\n' + '\n'.join(left)


def test_chinese_text_extracts_as_written(document, edition):
    if not edition.language.startswith('zh'):
        pytest.skip('only the Chinese edition has CJK text')
    path, _, texts = document
    radicals = sorted({c for c in ''.join(texts) if ord(c) in pdf.RADICALS})
    assert not radicals, (f'{path.name}: CJK radicals {radicals} stand for ordinary '
                          'characters in the text (fix_cjk_text did not run?)')
    assert re.search(r'[\u4e00-\u9fff]', ''.join(texts)), f'{path.name}: no Chinese text'


# ------------------------------------------------------------------- helpers

def page_titles(ed):
    """Return each page's title as the edition shows it: translated when the catalog is."""
    titles = []
    for page in bc.toc_pages():
        title = english_title(page)
        if ed.language != 'en':
            catalog = editions.catalog_dir(REPO, ed) / f'{page}.po'
            message = load_po(str(catalog)).get(title) if catalog.is_file() else None
            if message is not None and message.string and not message.fuzzy:
                title = message.string
        titles.append(title)
    return titles


def english_title(page):
    """Return the first `# ` heading of a page's source (.ipynb or .md)."""
    notebook = REPO / f'{page}.ipynb'
    if notebook.exists():
        cells = json.loads(notebook.read_text(encoding='utf-8'))['cells']
        text = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown')
    else:
        text = (REPO / f'{page}.md').read_text(encoding='utf-8')
    match = re.search(r'^# (.+)$', text, re.MULTILINE)
    assert match, f'{page} has no title (a line starting with "# ")'
    return match.group(1).strip()


def code_lines():
    """Return every line of every code cell and text output, without whitespace."""
    lines = set()
    for page in i18n.book_pages(REPO):
        notebook = REPO / f'{page}.ipynb'
        if not notebook.exists():
            continue
        for cell in json.loads(notebook.read_text(encoding='utf-8'))['cells']:
            if cell['cell_type'] != 'code':
                continue
            texts = [''.join(cell['source'])]
            texts += [''.join(o.get('text', '')) for o in cell.get('outputs', [])]
            for text in texts:
                lines.update(squeeze(line) for line in text.splitlines())
    return lines


class _SolutionText(html.parser.HTMLParser):
    """Collect the prose of each solution's body, leaving out math, code and its title."""

    def __init__(self):
        super().__init__()
        self.stack = []       # (tag, role) of the open elements
        self.solutions = []

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get('class') or '').split()
        role = None
        if tag == 'div' and 'solution' in classes:
            role = 'solution'
            self.solutions.append('')
        elif 'math' in classes or 'admonition-title' in classes or tag == 'pre':
            role = 'skip'
            if self.solutions and any(r == 'solution' for _, r in self.stack):
                # the PDF has typeset math or a code block here, whose extracted
                # text is not the page's text (and may come out of order)
                self.solutions[-1] += GAP
        if tag not in ('br', 'img', 'input', 'meta', 'link', 'hr', 'wbr'):
            self.stack.append((tag, role))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        roles = [role for _, role in self.stack]
        if 'solution' in roles and 'skip' not in roles:
            self.solutions[-1] += data


GAP = '\x00'


def solution_starts(page, length=40, shortest=6):
    """Return up to `length` characters of text of each solution in a built page.

    The text is taken from the first run of prose, between equations and code
    blocks, that has at least `shortest` characters.
    """
    parser = _SolutionText()
    parser.feed(Path(page).read_text(encoding='utf-8'))
    starts = []
    for text in parser.solutions:
        runs = [squeeze(run) for run in text.split(GAP)]
        run = next((run for run in runs if len(run) >= shortest), None)
        if run is not None:
            starts.append(run[:length])
    return starts


# ------------------------------------------------------------- the CJK text fix

def test_rewrite_cmap_names_characters_not_radicals():
    cmap = ('1 begincodespacerange\n<00> <FF>\nendcodespacerange\n'
            '2 beginbfchar\n<03> <2F8F>\n<04> <0041>\nendbfchar\n'
            '2 beginbfrange\n<10> <12> <2F00>\n<20> <21> <0061>\nendbfrange\nendcmap')
    mapping = {0x2F8F: 0x884C, 0x2F00: 0x4E00, 0x2F01: 0x4E28}
    fixed = pdf.rewrite_cmap(cmap, mapping)
    assert '<03> <884C>\n<04> <0041>' in fixed
    assert '<10> <12> [<4E00> <4E28> <2F02>]' in fixed, 'a range with a radical is spelled out'
    assert '<20> <21> <0061>' in fixed, 'a range without one is left alone'
    assert pdf.rewrite_cmap(fixed, mapping) == fixed


def test_radical_map():
    mapping = pdf.radical_map()
    assert chr(mapping[0x2F8F]) == '行' and chr(mapping[0x2F00]) == '一'  # Kangxi: NFKC
    if 0x2EDA not in mapping:
        pytest.skip('no CJK font found by fontconfig for the radicals supplement')
    assert chr(mapping[0x2EDA]) == '页'  # the supplement: from the font's glyphs
