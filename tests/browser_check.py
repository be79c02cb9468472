"""What tests/test_browser.py needs: the built book's location, its pages, a local server.

The browser test reads the HTML that `make book` wrote (or the folder named by the
environment variable BOOK_HTML) and serves it on 127.0.0.1 from a thread, so that
headless Chromium loads it exactly as a reader's browser would, without internet.
"""
import functools
import http.server
import os
import re
import threading
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'tools'))
import toc  # noqa: E402  (tools/toc.py: the pages of _toc.yml)

CHROMIUM = Path('/usr/bin/chromium')
# Flags for a quiet, offline browser: nothing of Chromium's own talks to the network.
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
# Set by `make test` (MAKE_TEST) or a CI runner (CI): a missing book or browser fails.
STRICT_ENV_VARS = ('CI', 'MAKE_TEST')


def strict():
    """Return the name of the set variable that makes missing prerequisites fail."""
    return next((name for name in STRICT_ENV_VARS if os.environ.get(name)), None)


def html_dir():
    """Return the folder of the built HTML book: $BOOK_HTML, else _build/html."""
    return Path(os.environ.get('BOOK_HTML', REPO / '_build' / 'html')).resolve()


# The reader editions, each with the folder it is served from inside the English HTML
# (see tools/editions.py) and a word whose search must find pages of that edition.
EDITIONS = {'en': '', 'zh': 'zh/'}
SEARCH_WORDS = {'en': 'softmax', 'zh': '回归'}


def edition_dir(root, edition):
    """Return the folder of an edition's HTML inside the served book."""
    return Path(root) / EDITIONS[edition]


def switch_target(edition, page):
    """Return the path (from the served root) that a page's language switch must link to."""
    other = next(prefix for name, prefix in EDITIONS.items() if name != edition)
    return f'{other}{page}.html'


def screenshot_dir():
    """Return where screenshots go: `screenshots/` next to the HTML folder."""
    return html_dir().parent / 'screenshots'


def toc_pages(toc_file=REPO / '_toc.yml'):
    """Return the document names in _toc.yml, in reading order (root first)."""
    return toc.pages(toc_file)


def appendix_pages(toc_file=REPO / '_toc.yml'):
    """Return the pages of the part captioned "Appendix": engineering, no exercises."""
    return toc.part_pages(toc_file, 'Appendix')


def is_notebook(root, page):
    """Return True when the built page came from a notebook (a chapter)."""
    return (Path(root) / '_sources' / f'{page}.ipynb').exists()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class BookServer:
    """Serve a folder on 127.0.0.1 at an ephemeral port from a daemon thread."""

    def __init__(self, root):
        handler = functools.partial(_QuietHandler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self.base_url = f'http://127.0.0.1:{self.httpd.server_address[1]}/'
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


REMOTE_ASSET = re.compile(
    r'<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\s(?:src|href)\s*=\s*'
    r'["\']?((?:https?:)?//[^"\'\s>]+)', re.IGNORECASE)
CSS_REMOTE_URL = re.compile(r'(?:url\(\s*["\']?|@import\s+["\'])((?:https?:)?//[^)"\']+)',
                            re.IGNORECASE)


def remote_assets(root):
    """Return (file, url) for every remote script, stylesheet, image or CSS url()."""
    found = []
    for path in sorted(Path(root).rglob('*.html')):
        for url in REMOTE_ASSET.findall(path.read_text(encoding='utf-8', errors='replace')):
            found.append((str(path.relative_to(root)), url))
    for path in sorted(Path(root).rglob('*.css')):
        for url in CSS_REMOTE_URL.findall(path.read_text(encoding='utf-8', errors='replace')):
            found.append((str(path.relative_to(root)), url))
    return found


# JavaScript run in each page. MathJax 3 typesets after the page's load event; its
# startup promise resolves when the first typesetting pass is done.
WAIT_FOR_MATH = """async () => {
    if (!document.querySelector('.math')) return 'no math';
    for (let i = 0; i < 200 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
        await new Promise(r => setTimeout(r, 50));
    if (!(window.MathJax && MathJax.startup)) return 'MathJax never started';
    await MathJax.startup.promise;
    return 'typeset';
}"""

# Every display (div.math) and inline (span.math) equation must hold MathJax's output,
# with neither an error box (bad syntax) nor an unknown macro, which MathJax's
# `noundefined` package shows as its name in red (`\foo`) instead of failing.
MATH_REPORT = """() => {
    const unrendered = [...document.querySelectorAll('div.math, span.math')]
        .filter(el => !el.querySelector('mjx-container'))
        .map(el => el.textContent.trim().slice(0, 80));
    const errors = [...document.querySelectorAll('mjx-merror')]
        .map(el => (el.getAttribute('data-mjx-error') || el.textContent).slice(0, 80))
        .concat([...document.querySelectorAll('mjx-assistive-mml mtext[mathcolor="red"]')]
            .map(el => el.textContent).filter(t => t.startsWith('\\\\'))
            .map(t => `undefined macro ${t}`));
    return {display: document.querySelectorAll('div.math').length,
            inline: document.querySelectorAll('span.math').length,
            unrendered, errors};
}"""

# The page's prose (hidden solutions included), without code, rendered math and
# scripts: where TeX source left behind by a failed render would show.
PROSE_TEXT = """() => {
    const main = (document.querySelector('main') || document.body).cloneNode(true);
    main.querySelectorAll('pre, code, script, style, mjx-container, .cell_input, svg')
        .forEach(el => el.remove());
    return main.textContent;
}"""
RAW_TEX = re.compile(r'\$\$|\\(?:frac|begin\{|end\{|sum_|exp\b|log\b|hat\{|mathbf|[\[\]()])')

# Each <img> must decode with a non-zero natural size; each <svg> figure (not the
# theme's icons) must have a non-zero box. Figures in cell outputs must have an opaque
# background (a transparent one hides black axes on the dark theme); the corner pixel
# of the decoded image tells.
FIGURE_REPORT = """async () => {
    const main = document.querySelector('main') || document.body;
    const images = [...main.querySelectorAll('img')];
    images.forEach(img => { img.loading = 'eager'; });
    const out = [];
    for (const img of images) {
        let ok = true;
        try { await img.decode(); } catch (e) { ok = false; }
        let opaque = null;
        if (ok && img.closest('.cell_output')) {
            const c = document.createElement('canvas');
            c.width = img.naturalWidth; c.height = img.naturalHeight;
            const ctx = c.getContext('2d');
            ctx.drawImage(img, 0, 0);
            opaque = ctx.getImageData(1, 1, 1, 1).data[3] === 255;
        }
        out.push({src: img.getAttribute('src'), decoded: ok, width: img.naturalWidth,
                  height: img.naturalHeight, opaque});
    }
    const svgs = [...main.querySelectorAll('figure svg, .cell_output svg')]
        .map(svg => { const r = svg.getBoundingClientRect();
                      return {src: 'inline svg', decoded: true, width: r.width,
                              height: r.height, opaque: null}; });
    return out.concat(svgs);
}"""

# The link from a page to the same page in the other edition (_templates/language-switch.html).
LANGUAGE_SWITCH = """() => [...document.querySelectorAll('a.language-switch')]
    .map(a => ({href: a.href, text: a.textContent.trim(),
                visible: a.getBoundingClientRect().width > 0}))"""

# sphinx-exercise's blocks; sphinx-togglebutton marks a closed solution `toggle-hidden`.
EXERCISE_REPORT = """() => ({
    exercises: document.querySelectorAll('main div.exercise').length,
    solutions: document.querySelectorAll('main div.solution').length,
    shown: [...document.querySelectorAll('main div.solution')]
        .filter(s => !s.classList.contains('toggle-hidden')).map(s => s.id),
})"""
MIN_EXERCISES = 4  # per chapter; the appendix sections have none

# Links inside the page's content that point into the book, resolved to absolute URLs.
INTERNAL_LINKS = """(base) => [...document.querySelectorAll('main a[href]')]
    .map(a => a.href).filter(href => href.startsWith(base))"""
