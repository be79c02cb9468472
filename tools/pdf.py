"""Print each edition of the book to one PDF with headless Chromium: `make pdf`.

For each edition, Sphinx's `singlehtml` builder writes the whole book as one page, in
reading order, from the stored outputs (`tools/editions.py singlehtml EDITION`). The
page is served on 127.0.0.1 and opened in the Chromium that the browser check uses
(/usr/bin/chromium, driven by Playwright), with every request to another host
blocked. Once MathJax has typeset the equations and the fonts are loaded, the page is
prepared for paper: every solution is opened, the table of contents after the title
lists each chapter's sections too (with links), each chapter starts on a new page,
and the site's navigation is hidden. Chromium then prints it to
`_build/pdf/softmax-regression-EDITION.pdf`, with page numbers and a PDF outline
(bookmarks) of the headings. Chinese text needs a CJK font: Debian's `fonts-noto-cjk`.

    python tools/pdf.py                 # both editions
    python tools/pdf.py --edition zh    # one
    python tools/pdf.py --no-build      # print the singlehtml builds already there
"""
import argparse
import contextlib
import functools
import http.server
import re
import subprocess
import sys
import threading
import time
import unicodedata
from pathlib import Path

import editions

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path('/usr/bin/chromium')
# The browser check's flags: nothing of Chromium's own talks to the network.
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                 '--no-first-run', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync']
PDF_NAME = 'softmax-regression-{edition}.pdf'
TIMEOUT_MS = 60_000

# MathJax 3 typesets after the load event; its startup promise resolves when done.
WAIT_FOR_MATH = """async () => {
    if (!document.querySelector('.math')) return 'no math';
    for (let i = 0; i < 400 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
        await new Promise(r => setTimeout(r, 50));
    if (!(window.MathJax && MathJax.startup)) return 'MathJax never started';
    await MathJax.startup.promise;
    await document.fonts.ready;
    const failed = document.querySelectorAll('mjx-merror').length;
    return failed ? `${failed} equations failed` : 'typeset';
}"""

# Open the solutions (sphinx-togglebutton hides them behind a button). The theme prints
# a table of contents of the book's pages after the title (#jb-print-toc, hidden on
# screen); under each page's entry go its sections, linked. Each page of the book, which
# the singlehtml builder marks with a span id="document-NAME", starts on a new sheet.
# Returns the number of pages found through the table of contents and of solutions.
PREPARE = """() => {
    const hidden = [...document.querySelectorAll('.toggle-hidden')];
    hidden.forEach(el => el.classList.remove('toggle-hidden'));
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    document.querySelectorAll('button.toggle-button').forEach(b => b.remove());
    const text = h => [...h.childNodes]
        .filter(n => !(n.classList && n.classList.contains('headerlink')))
        .map(n => n.textContent).join('').trim();
    let pages = 0;
    for (const link of document.querySelectorAll('#jb-print-toc a[href^="#document-"]')) {
        const marker = document.getElementById(decodeURIComponent(link.hash.slice(1)));
        const page = marker && marker.nextElementSibling;
        if (!page || page.tagName !== 'SECTION') continue;
        pages += 1;
        page.classList.add('pdf-chapter');
        const heads = [...page.querySelectorAll(':scope > section > :is(h2, h3, h4)')];
        if (!heads.length) continue;
        const list = document.createElement('ul');
        list.className = 'pdf-sections';
        for (const h of heads) {
            const item = document.createElement('li');
            const a = document.createElement('a');
            a.href = '#' + h.closest('section').id;
            a.textContent = text(h);
            item.appendChild(a);
            list.appendChild(item);
        }
        link.after(list);
    }
    return {pages, solutions: hidden.length};
}"""

# Paper layout: the article alone, full width, code wrapped rather than cut off.
PRINT_CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
.bd-header, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-header-article,
.bd-footer, .bd-footer-article, .bd-footer-content, .prev-next-area, .headerlink,
.copybtn, .language-switch, #pst-back-to-top, .pst-async-banner-revealer,
.search-button__wrapper, .skip-link { display: none !important; }
.bd-main, .bd-content, .bd-article-container, .bd-article, .bd-page-width,
.bd-container, .bd-container__inner { max-width: none !important; width: 100% !important;
    padding: 0 !important; margin: 0 !important; display: block !important; }
html, body { font-size: 11pt; background: white !important; }
pre { white-space: pre-wrap !important; word-break: break-all; font-size: 8.5pt; }
#print-main-content { break-after: page; }
#jb-print-toc ul { list-style: none !important; padding-left: 1.2em; }
#jb-print-toc p.caption { font-weight: 700; font-size: 1.1em; margin: 1em 0 0.3em; }
#jb-print-toc nav > ul { padding-left: 0; }
#jb-print-toc .toctree-l1 > a { font-weight: 600; }
#jb-print-toc .pdf-sections { font-size: 0.9em; margin-bottom: 0.4em; }
#jb-print-toc a { text-decoration: none; color: inherit; }
.pdf-chapter { break-before: page; }
h1, h2, h3, h4 { break-after: avoid; }
img, svg, .cell_output, .admonition, figure { break-inside: avoid; }
.solution.dropdown > .admonition-title::after { display: none !important; }
details.hide > summary { display: none !important; }  /* MyST-NB: "Hide code cell source" */
"""

FOOTER = ('<div style="font-size:8pt; width:100%; text-align:center; color:#555;">'
          '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def serve(folder):
    """Serve `folder` on 127.0.0.1 at a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def root_page(html_dir):
    """Return the singlehtml page that holds the book (index.html only redirects to it)."""
    pages = [p for p in sorted(Path(html_dir).glob('*.html')) if p.name != 'index.html']
    if len(pages) != 1:
        raise SystemExit(f'expected one book page in the singlehtml build {html_dir}, '
                         f'found {[p.name for p in pages]}')
    return pages[0].name


def print_pdf(browser, html_dir, pdf_path):
    """Open the singlehtml book, prepare it for paper and print it; return what was done."""
    problems = []
    with serve(html_dir) as base:
        context = browser.new_context(viewport={'width': 1100, 'height': 1400},
                                      color_scheme='light', service_workers='block')
        page = context.new_page()

        def route(r):
            url = r.request.url
            if url == base + 'searchindex.js' and not (Path(html_dir) / 'searchindex.js').exists():
                # pydata-sphinx-theme links the search index from every page; a
                # singlehtml build has none (and a PDF no search).
                return r.fulfill(body='', content_type='text/javascript')
            if url.startswith(base):
                return r.continue_()
            problems.append(f'blocked a request outside the book: {r.request.url}')
            return r.abort('blockedbyclient')

        context.route('**/*', route)
        page.on('pageerror', lambda err: problems.append(f'page error: {err}'))
        page.on('requestfailed', lambda req: problems.append(f'request failed: {req.url}'))
        page.goto(base + root_page(html_dir), wait_until='load', timeout=TIMEOUT_MS)
        page.wait_for_load_state('networkidle', timeout=TIMEOUT_MS)
        math = page.evaluate(WAIT_FOR_MATH)
        if math not in ('typeset', 'no math'):
            problems.append(f'MathJax: {math}')
        done = page.evaluate(PREPARE)
        page.add_style_tag(content=PRINT_CSS)
        page.emulate_media(media='print')
        page.evaluate('document.fonts.ready.then(() => true)')
        pdf_path.parent.mkdir(parents=True, exist_ok=True)
        page.pdf(path=str(pdf_path), format='A4', print_background=True,
                 prefer_css_page_size=True, display_header_footer=True,
                 header_template='<span></span>', footer_template=FOOTER,
                 outline=True, tagged=True)
        context.close()
    if problems:
        pdf_path.unlink(missing_ok=True)
        raise SystemExit(f'printing {html_dir} failed:\n  ' + '\n  '.join(problems))
    return done


# Chinese text: Chromium's PDF writer gives each glyph of a CJK font the lowest code
# point that the font maps to it, and Noto CJK maps the Kangxi radicals (U+2F00-U+2FDF)
# and the CJK radicals supplement (U+2E80-U+2EFF) to the glyphs of common characters:
# text copied or searched in the PDF would read 运⾏ (U+2F8F) for 运行, 每⼀⻚ for 每一页.
# The PDF's ToUnicode maps are rewritten to the unified ideographs.
RADICALS = range(0x2E80, 0x2FE0)
CJK_FONT_QUERY = 'sans-serif:lang=zh-cn'
BFCHAR = re.compile(r'(beginbfchar\s)(.*?)(\sendbfchar)', re.DOTALL)
BFRANGE = re.compile(r'(beginbfrange\s)(.*?)(\sendbfrange)', re.DOTALL)
HEX = re.compile(r'<([0-9A-Fa-f]+)>')


def radical_map():
    """Return {radical code point: the unified ideograph it stands for}.

    The Kangxi radicals decompose to it under NFKC; for the radicals supplement, the
    CJK font that Chromium uses (fontconfig's choice, read with fontTools) tells which
    ideograph shares the radical's glyph.
    """
    mapping = {}
    for cp in RADICALS:
        nfkc = unicodedata.normalize('NFKC', chr(cp))
        if len(nfkc) == 1 and nfkc != chr(cp):
            mapping[cp] = ord(nfkc)
    mapping.update({cp: u for cp, u in _font_radicals().items() if cp not in mapping})
    return mapping


def _font_radicals():
    """Return {radical: ideograph with the same glyph} from the system's CJK font, or {}."""
    try:
        from fontTools.ttLib import TTFont

        path = subprocess.run(['fc-match', '-f', '%{file}', CJK_FONT_QUERY],
                              capture_output=True, text=True).stdout.strip()
        index = subprocess.run(['fc-match', '-f', '%{index}', CJK_FONT_QUERY],
                               capture_output=True, text=True).stdout.strip()
        cmap = TTFont(path, fontNumber=int(index or 0), lazy=True).getBestCmap()
    except (OSError, ValueError, ImportError):
        return {}
    ideographs = {}
    for cp, glyph in sorted(cmap.items()):
        if 0x3400 <= cp <= 0x9FFF or 0x20000 <= cp <= 0x3FFFF:
            ideographs.setdefault(glyph, cp)
    return {cp: ideographs[g] for cp, g in cmap.items()
            if cp in RADICALS and g in ideographs}


def _utf16(text):
    return '<' + text.encode('utf-16-be').hex().upper() + '>'


def _decoded(hex_digits):
    """Return the text a ToUnicode destination (UTF-16BE in hex) stands for, or ''."""
    try:
        return bytes.fromhex(hex_digits).decode('utf-16-be')
    except ValueError:
        return ''


def _fixed(hex_digits, mapping):
    """Return a ToUnicode destination with its radicals replaced (unchanged otherwise)."""
    text = _decoded(hex_digits)
    if not text or not any(ord(c) in mapping for c in text):
        return f'<{hex_digits}>'
    return _utf16(''.join(chr(mapping.get(ord(c), ord(c))) for c in text))


def rewrite_cmap(cmap, mapping):
    """Return a ToUnicode CMap whose destinations name no radical (see RADICALS)."""
    def chars(m):
        pairs = HEX.findall(m.group(2))
        lines = [f'<{src}> {_fixed(dst, mapping)}' for src, dst in zip(pairs[::2], pairs[1::2])]
        return m.group(1) + '\n'.join(lines) + m.group(3)

    def ranges(m):
        lines = []
        for line in m.group(2).splitlines():
            codes = HEX.findall(line)
            if '[' in line:  # <lo> <hi> [<dst> ...]: a destination per code
                line = (f'<{codes[0]}> <{codes[1]}> ['
                        + ' '.join(_fixed(d, mapping) for d in codes[2:]) + ']')
            elif len(codes) == 3:  # <lo> <hi> <dst>: consecutive destinations
                count = int(codes[1], 16) - int(codes[0], 16) + 1
                first = _decoded(codes[2])
                if len(first) == 1 and any(ord(first) + i in mapping for i in range(count)):
                    line = (f'<{codes[0]}> <{codes[1]}> ['
                            + ' '.join(_utf16(chr(mapping.get(ord(first) + i, ord(first) + i)))
                                       for i in range(count)) + ']')
            lines.append(line)
        return m.group(1) + '\n'.join(lines) + m.group(3)

    return BFRANGE.sub(ranges, BFCHAR.sub(chars, cmap))


def fix_cjk_text(pdf_path):
    """Rewrite the PDF's ToUnicode maps so that its Chinese text extracts as written."""
    from pypdf import PdfWriter

    mapping = radical_map()
    writer = PdfWriter(pdf_path, incremental=True)  # appends the changed maps only
    done, changed = set(), 0
    for page in writer.pages:
        for ref in page.get('/Resources', {}).get('/Font', {}).values():
            font = ref.get_object()
            unicode_map = font.get('/ToUnicode')
            if unicode_map is None or unicode_map.indirect_reference in done:
                continue
            done.add(unicode_map.indirect_reference)
            stream = unicode_map.get_object()
            old = stream.get_data().decode('latin-1')
            new = rewrite_cmap(old, mapping)
            if new != old:
                stream.set_data(new.encode('latin-1'))
                changed += 1
    if changed:
        writer.write(pdf_path)
    return changed


def build_singlehtml(ed, source=REPO):
    """Build one edition as a single page, in a process of its own.

    Sphinx keeps its translations in module globals: two editions built in one
    process could show the first one's theme labels in the second.
    """
    command = [sys.executable, str(Path(__file__).with_name('editions.py')), 'singlehtml',
               ed.name, '--source', str(source)]
    if subprocess.run(command).returncode != 0:
        raise SystemExit(f'the singlehtml build of the {ed.label} edition failed (see above)')


def make_pdf(ed, browser, build=True, source=REPO):
    """Build (unless told not to) and print one edition; return the PDF's path."""
    build_dir = Path(source) / '_build'
    html_dir = editions.output_dir(build_dir, 'singlehtml', ed)
    start = time.perf_counter()
    if build:
        build_singlehtml(ed, source)
    built = time.perf_counter()
    if not (html_dir / 'index.html').exists():
        raise SystemExit(f'no singlehtml build of the {ed.label} edition in {html_dir}: '
                         f'run `python tools/editions.py singlehtml {ed.name}`')
    pdf_path = build_dir / 'pdf' / PDF_NAME.format(edition=ed.name)
    pdf_path.unlink(missing_ok=True)  # a failed print must not leave the last one behind
    done = print_pdf(browser, html_dir, pdf_path)
    if ed.language.startswith('zh'):
        fix_cjk_text(pdf_path)
    end = time.perf_counter()
    print(f'{pdf_path.relative_to(source)}: {done["pages"]} pages of the book, '
          f'{done["solutions"]} solutions opened, {pdf_path.stat().st_size / 1e6:.1f} MB '
          f'(singlehtml build {built - start:.1f} s, print {end - built:.1f} s)')
    return pdf_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--edition', choices=sorted(editions.EDITIONS), action='append',
                        help='default: every edition')
    parser.add_argument('--no-build', action='store_true',
                        help='print the singlehtml builds already in _build/singlehtml')
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f'no Chromium at {CHROMIUM}: install the Debian package `chromium`')
    from playwright.sync_api import sync_playwright

    names = args.edition or list(editions.EDITIONS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for name in names:
                make_pdf(editions.edition(name), browser, build=not args.no_build)
        finally:
            browser.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
