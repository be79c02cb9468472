"""The built HTML book, opened in headless Chromium with no network but a local server.

`make test` builds the book, then runs this file with MAKE_TEST=1 set: a missing book
or browser then fails the test. A plain `pytest tests` without a built book skips it
and says why. Point BOOK_HTML at another build folder to check that one instead.

Both editions are checked, the English one at the root of the built HTML and the
Chinese one in its `zh/` folder (`make book-zh`), served together as a reader gets them.
For every page in _toc.yml (and the search page) of each edition the test asserts: no
request left the local server and none failed, no console error, every equation
typeset by MathJax (no raw TeX left in the text), every figure decoded with a non-zero
size and an opaque background, the download button present (.ipynb for chapters), the
language switch linking to the same page in the other edition, every internal link
and anchor resolving. It saves a full-page PNG of each page under _build/screenshots/
(`zh-` in front for the Chinese edition), and one of the first chapter with a figure
in the dark theme.
"""
import io
import json
import re
from urllib.parse import unquote, urlsplit

import pytest
from sphinx_intl.catalog import load_po

import browser_check as bc

PAGES = bc.toc_pages()
APPENDIX = bc.appendix_pages()
EDITIONS = list(bc.EDITIONS)


def _missing(reason):
    """Fail under `make test`/CI, skip (with the reason) for a plain `pytest tests`."""
    if bc.strict():
        pytest.fail(f'{reason} ({bc.strict()} is set, so this is a failure)')
    pytest.skip(f'{reason}; set MAKE_TEST=1 to make this a failure')


@pytest.fixture(scope='module')
def html_dir():
    root = bc.html_dir()
    if not (root / 'index.html').exists():
        _missing(f'no built book at {root}: run `make book` first '
                 f'(or set BOOK_HTML to a folder holding index.html)')
    return root


@pytest.fixture(scope='module', params=EDITIONS)
def edition(request, html_dir):
    """An edition's name; its HTML must exist (the Chinese one comes from `make book-zh`)."""
    folder = bc.edition_dir(html_dir, request.param)
    if not (folder / 'index.html').exists():
        _missing(f'no {request.param} edition at {folder}: run `make book-zh` '
                 '(the Chinese edition is built into the zh/ folder of the English one)')
    return request.param


@pytest.fixture(scope='module')
def server(html_dir):
    with bc.BookServer(html_dir) as srv:
        yield srv


@pytest.fixture(scope='module')
def browser():
    if not bc.CHROMIUM.exists():
        _missing(f'no Chromium at {bc.CHROMIUM}: install the Debian package `chromium`')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(bc.CHROMIUM),
                                      args=bc.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope='module')
def shots(html_dir):
    folder = bc.screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Visit:
    """One page in a fresh, offline browser context, with everything that went wrong."""

    def __init__(self, browser, server):
        self.base = server.base_url
        self.context = browser.new_context(viewport={'width': 1280, 'height': 900},
                                           color_scheme='light', service_workers='block')
        self.problems = []
        self.context.route('**/*', self._route)
        self.page = self.context.new_page()
        self.page.on('console', self._console)
        self.page.on('pageerror', lambda err: self.problems.append(f'page error: {err}'))
        self.page.on('requestfailed', lambda req: self.problems.append(
            f'request failed: {req.url} ({req.failure})'))
        self.page.on('response', lambda res: res.status >= 400 and self.problems.append(
            f'HTTP {res.status}: {res.url}'))

    def _route(self, route):
        if route.request.url.startswith(self.base):
            route.continue_()
        else:
            self.problems.append(f'request to outside the book blocked: {route.request.url}')
            route.abort('blockedbyclient')

    def _console(self, msg):
        if msg.type == 'error':
            self.problems.append(f'console error: {msg.text} at {msg.location.get("url")}')

    def open(self, path):
        self.page.goto(self.base + path, wait_until='load')
        self.page.wait_for_load_state('networkidle')
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    v = Visit(browser, server)
    yield v
    v.close()


def test_no_remote_assets(html_dir):
    """No page or stylesheet of the book loads anything from another host."""
    found = bc.remote_assets(html_dir)
    assert not found, 'remote assets (the book must work offline):\n' + '\n'.join(
        f'  {f}: {u}' for f, u in found[:30])


def test_toc_pages_built(html_dir, edition):
    """Every page in _toc.yml has its HTML (a chapter in the ToC but not built fails)."""
    folder = bc.edition_dir(html_dir, edition)
    missing = [p for p in PAGES if not (folder / f'{p}.html').exists()]
    assert not missing, f'pages in _toc.yml without HTML in {folder}: {missing}'


@pytest.mark.parametrize('page', PAGES)
def test_page(page, edition, html_dir, visit, shots):
    prefix = bc.EDITIONS[edition]
    folder = bc.edition_dir(html_dir, edition)
    if not (folder / f'{page}.html').exists():
        pytest.fail(f'{page} is in _toc.yml but {prefix}{page}.html was not built')
    p = visit.open(f'{prefix}{page}.html')
    state = p.evaluate(bc.WAIT_FOR_MATH)
    assert state in ('no math', 'typeset'), f'{state}; ' + '; '.join(visit.problems)
    p.wait_for_load_state('networkidle')  # MathJax's fonts
    p.screenshot(path=str(shots / _shot_name(edition, page)), full_page=True)

    math = p.evaluate(bc.MATH_REPORT)
    assert not math['unrendered'], f'equations MathJax did not typeset: {math["unrendered"]}'
    assert not math['errors'], f'MathJax errors (unknown macro?): {math["errors"]}'
    raw = sorted(set(bc.RAW_TEX.findall(p.evaluate(bc.PROSE_TEXT))))
    assert not raw, f'raw TeX left in the page text: {raw}'

    figures = p.evaluate(bc.FIGURE_REPORT)
    broken = [f for f in figures if not f['decoded'] or f['width'] <= 0 or f['height'] <= 0]
    assert not broken, f'figures that did not load or have no size: {broken}'
    see_through = [f['src'] for f in figures if f['opaque'] is False]
    assert not see_through, ('figures with a transparent background (unreadable in the '
                             f'dark theme; keep matplotlib\'s white facecolor): {see_through}')

    downloads = p.eval_on_selector_all('.dropdown-download-buttons a[href]',
                                       'els => els.map(a => a.href)')
    assert downloads, 'no download button'
    if bc.is_notebook(folder, page):
        ipynb = [u for u in downloads if u.endswith('.ipynb')]
        assert ipynb, f'no .ipynb download among {downloads}'
        response = p.request.get(ipynb[0])
        assert response.ok, f'{ipynb[0]}: HTTP {response.status}'
        assert json.loads(response.body())['cells'], 'the downloaded notebook has no cells'

    if bc.is_notebook(folder, page) and page not in APPENDIX:
        ex = p.evaluate(bc.EXERCISE_REPORT)
        assert ex['exercises'] >= bc.MIN_EXERCISES, (
            f'{ex["exercises"]} exercises, at least {bc.MIN_EXERCISES} expected')
        assert ex['solutions'] > 0, 'no solutions'
        assert not ex['shown'], f'solutions not hidden behind a toggle: {ex["shown"]}'

    switches = p.evaluate(bc.LANGUAGE_SWITCH)
    assert len(switches) == 1 and switches[0]['visible'], (
        f'expected one visible language switch, found {switches}')
    target = bc.switch_target(edition, page)
    href = switches[0]['href']
    assert urlsplit(href).path == urlsplit(visit.base).path + target, (
        f'the language switch links to {href}, expected the same page in the other '
        f'edition: {target}')
    assert _resolves(href, visit.base, html_dir), f'the language switch target {target} is missing'

    bad_links = [u for u in set(p.evaluate(bc.INTERNAL_LINKS, visit.base))
                 if not _resolves(u, visit.base, html_dir)]
    assert not bad_links, f'internal links that do not resolve: {sorted(bad_links)}'
    assert not visit.problems, '\n'.join(visit.problems)


def _resolves(url, base, html_dir):
    """True if the link's file exists and its #anchor (if any) is an id in that file."""
    parts = urlsplit(url)
    rel = unquote(parts.path[len(urlsplit(base).path):]) or 'index.html'
    target = html_dir / rel
    if target.is_dir():
        target = target / 'index.html'
    if not target.is_file():
        return False
    if not parts.fragment or target.suffix != '.html':
        return True
    ids = re.findall(r'\sid="([^"]+)"', target.read_text(encoding='utf-8'))
    return unquote(parts.fragment) in ids


def test_search(html_dir, edition, visit, shots):
    """Typing a word into the search page's box lists the pages that contain it.

    In the Chinese edition the word is Chinese: the pages that must be found are those
    whose translation holds it (the chapters, once their catalogs are translated).
    """
    word = bc.SEARCH_WORDS[edition]
    p = visit.open(f'{bc.EDITIONS[edition]}search.html')
    box = p.locator('form.bd-search input[name="q"]').last
    box.fill(word)
    box.press('Enter')
    p.wait_for_url(re.compile(r'search\.html\?q='))
    p.wait_for_selector('#search-results ul.search li a', timeout=20_000)
    hits = p.eval_on_selector_all('#search-results ul.search li a',
                                  'els => els.map(a => a.getAttribute("href"))')
    p.screenshot(path=str(shots / _shot_name(edition, 'search')), full_page=True)
    found = {h.split('?')[0].split('#')[0].removesuffix('.html') for h in hits}
    expected = PAGES if edition == 'en' else _translated_pages_with(word)
    assert expected, f'no page of the {edition} edition is translated with {word!r}'
    if any(page.startswith('chapters/') for page in expected):
        assert any(h.startswith('chapters/') for h in found), (
            f'no chapter among the hits for {word!r}: {hits}')
    assert found & set(expected), f'none of {expected} among the hits for {word!r}: {hits}'
    assert not visit.problems, '\n'.join(visit.problems)


def _translated_pages_with(word):
    """Return the pages whose Chinese catalog translates some message with `word` in it."""
    root = bc.REPO / 'locales' / 'zh_CN' / 'LC_MESSAGES'
    pages = []
    for page in PAGES:
        path = root / f'{page}.po'
        if path.is_file() and any(word in m.string for m in load_po(str(path))
                                  if m.id and m.string and not m.fuzzy):
            pages.append(page)
    return pages


def _shot_name(edition, page):
    """Return a screenshot's file name: the page's path with dashes, zh- for Chinese."""
    return bc.EDITIONS[edition].replace('/', '-') + page.replace('/', '-') + '.png'


def test_dark_theme_figures(html_dir, edition, visit, shots):
    """In the dark theme, the first chapter with figures still shows them with contrast."""
    from PIL import Image

    folder = bc.edition_dir(html_dir, edition)
    page = next((p for p in PAGES if 'cell_output' in _html(folder, p)
                 and '<img' in _html(folder, p)), None)
    if page is None:
        pytest.skip('no page with a figure yet')
    p = visit.open(f'{bc.EDITIONS[edition]}{page}.html')
    p.evaluate(bc.WAIT_FOR_MATH)
    p.evaluate("() => { document.documentElement.dataset.mode = 'dark';"
               " document.documentElement.dataset.theme = 'dark'; }")
    background = p.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert _luminance(background) < 80, f'the dark theme did not apply: body {background}'
    p.screenshot(path=str(shots / _shot_name(edition, f'{page}-dark')), full_page=True)
    for img in p.locator('main .cell_output img').all():
        if not img.is_visible():
            continue  # inside a closed solution
        gray = Image.open(io.BytesIO(img.screenshot())).convert('L')
        lo, hi = gray.getextrema()
        assert lo <= 96 and hi >= 160, (
            f'{img.get_attribute("src")}: luminance only spans {lo}..{hi} in the dark '
            'theme: the figure lacks either light paper or dark ink')
    assert not visit.problems, '\n'.join(visit.problems)


def _html(html_dir, page):
    path = html_dir / f'{page}.html'
    return path.read_text(encoding='utf-8') if path.exists() else ''


def _luminance(css_color):
    r, g, b = (int(v) for v in re.findall(r'\d+', css_color)[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b
