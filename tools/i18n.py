"""The Chinese edition's message catalogs: extract, update, status, check.

The English pages are the source. Sphinx's gettext builder extracts every paragraph,
heading, list item, admonition, exercise and solution of every page in `_toc.yml`
as one message (its MyST source: math, roles and code spans included; display
equations and code cells are not messages). `locales/zh_CN/LC_MESSAGES/` holds one
standard gettext catalog per page (`intro.po`, `chapters/softmax.po`, ...) with the
translation of each message, plus `book.po` for the strings around the text: the
book's title and author from `_config.yml` and the theme's labels (CHROME_STRINGS).

    python tools/i18n.py update          # after changing English text: sync the catalogs
    python tools/i18n.py status          # how much is translated, catalog by catalog
    python tools/i18n.py status --list   # ... and the messages still to translate
    python tools/i18n.py check           # exit 1 on any gap (what tests/test_i18n.py asserts)
    python tools/i18n.py extract         # only the templates (.pot), in _build/gettext/

`update` keeps every existing translation. A message whose English changed is matched
to its old version, keeps the old translation and is marked fuzzy, with the old English
shown above it (`#| msgid`), so the translator sees what changed; a new message is
added untranslated; a translated message that is gone is kept at the end as obsolete
(`#~`), where `update` finds it again if the English comes back.
Fuzzy and untranslated messages are shown in English in the Chinese edition.
"""
import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import unescape
from sphinx_intl.catalog import dump_po, load_po

import toc

REPO = Path(__file__).resolve().parents[1]
LANGUAGE = 'zh_CN'
LINE_WIDTH = 76
CHROME_CATALOG = 'book'
QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')

# Labels of the page chrome that neither Sphinx nor the themes translate (or translate
# into traditional rather than simplified Chinese). Their translations live in
# book.po with the title; tools/sphinx_editions.py applies them.
CHROME_STRINGS = (
    'Search this book...',
    'Print to PDF',
    'Link to this heading',
    'Link to this equation',
    'Toggle primary sidebar',
    'Toggle secondary sidebar',
    'Color mode',
    'System Settings',
    '© Copyright %(copyright)s.',
    # MyST-NB fills in {type}: source, outputs or content (a translation may leave it out)
    'Show code cell {type}',
    'Hide code cell {type}',
)

# What a translation must keep exactly as the English message has it: MyST roles
# such as {eq}`ce-lse`, {doc}`softmax` or {cite}`bishop2006pattern`, code spans,
# inline math ($...$ and $$...$$) and link targets ](...). A changed role breaks a
# cross reference; changed math or code would no longer be the chapter's.
MARKUP = re.compile(
    r'\{[A-Za-z][\w:+.-]*\}`[^`]+`'   # a role with its target
    r'|`[^`\n]+`'                    # a code span
    r'|\$\$.+?\$\$|\$[^$\n]+?\$'     # display or inline math
    r'|\]\([^)\s]+\)'                # a link target
    r'|%\(\w+\)[sd]',                 # a template's placeholder (chrome catalog)
    re.DOTALL)


def catalog_root(source=REPO):
    """Return the folder of the committed Chinese catalogs."""
    return Path(source) / 'locales' / LANGUAGE / 'LC_MESSAGES'


def book_pages(source=REPO):
    """Return the document names of `_toc.yml`, root first, as the build reads them."""
    return toc.pages(Path(source) / '_toc.yml')


def catalog_names(source=REPO):
    """Return every catalog the book needs: one per page, then the chrome catalog."""
    return book_pages(source) + [CHROME_CATALOG]


# ---------------------------------------------------------------- extraction

def chrome_messages(source=REPO):
    """Return the chrome catalog's English strings: title and author, then the labels."""
    config = yaml.safe_load((Path(source) / '_config.yml').read_text(encoding='utf-8'))
    strings = [config.get(key) for key in ('title', 'author')]
    return [s for s in strings if isinstance(s, str) and s] + list(CHROME_STRINGS)


def write_chrome_template(source, pot_dir):
    """Write `book.pot`, the template of the chrome catalog; return its path."""
    catalog = Catalog(project=chrome_messages(source)[0], fuzzy=False)
    for message in dict.fromkeys(chrome_messages(source)):
        catalog.add(message)
    path = Path(pot_dir) / f'{CHROME_CATALOG}.pot'
    dump_po(str(path), catalog, width=LINE_WIDTH)
    return path


def extract(source=REPO, pot_dir=None):
    """Extract the English messages of the book at `source` into .pot files; return the folder.

    Runs Sphinx's gettext builder (`tools/editions.py gettext en`) in a fresh process,
    a few seconds, and adds the chrome template.
    """
    source = Path(source).resolve()
    pot_dir = Path(pot_dir or source / '_build' / 'gettext').resolve()
    command = [sys.executable, str(Path(__file__).with_name('editions.py')), 'gettext', 'en',
               '--source', str(source), '--out', str(pot_dir)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f'extracting the English messages failed:\n{done.stdout}{done.stderr}')
    write_chrome_template(source, pot_dir)
    return pot_dir


def templates(pot_dir):
    """Return {catalog name: .pot path} for the templates in `pot_dir`.

    Sphinx also writes `sphinx.pot`, the labels of our page templates (`_templates/`);
    they are in the chrome catalog already, which the build copies as `sphinx.po`.
    """
    pot_dir = Path(pot_dir)
    found = {p.relative_to(pot_dir).with_suffix('').as_posix(): p
             for p in sorted(pot_dir.rglob('*.pot')) if '_static' not in p.parts}
    found.pop('sphinx', None)
    return found


# ---------------------------------------------------------------- updating

def _snapshot(catalog):
    """Return what `update` may change in a catalog, to write only when it changed."""
    return ([(m.id, m.string, m.fuzzy, tuple(m.previous_id)) for m in catalog if m.id],
            sorted(catalog.obsolete))


def _new_header(catalog, name):
    """Give a new catalog its language and a header that says how to work with it."""
    catalog.locale = LANGUAGE
    catalog.fuzzy = False
    catalog.project = catalog.project if catalog.project != 'Project name not set' else ''
    catalog.version = ''
    catalog.msgid_bugs_address = ''
    catalog.last_translator = ''
    catalog.language_team = 'Simplified Chinese'
    catalog.header_comment = (
        f'# Simplified Chinese translation of "{name}" in the book.\n'
        '# Translate the msgstr lines; `python tools/i18n.py update` brings the msgid\n'
        '# lines up to date with the English text (see README, "For contributors").')


def load_catalog(path):
    """Read a .po file, with each fuzzy message's previous English as babel wrote it.

    babel writes the English a fuzzy translation was made for as `#| msgid "..."`
    lines but reads them back as ordinary comments, which would then outlive the
    fuzzy flag. Here they become the message's `previous_id` again while it is fuzzy,
    and are dropped once a translator has cleared the flag.
    """
    catalog = load_po(str(path))
    for message in catalog:
        marked = [c[2:] for c in message.user_comments if c.startswith('| ')]
        if not marked:
            continue
        message.user_comments = [c for c in message.user_comments if not c.startswith('| ')]
        # babel wraps the comment at spaces, sometimes inside a quoted string
        text = ' '.join(marked)
        if message.fuzzy and text.startswith('msgid '):
            message.previous_id = [''.join(unescape(q) for q in QUOTED.findall(text))]
    return catalog


def _drop_format_flags(catalog):
    """Remove the python-format flags babel guesses from braces: prose is no format string."""
    for message in catalog:
        message.flags -= {'python-format', 'python-brace-format'}


def update_catalog(pot_path, po_path, name):
    """Merge one template into one catalog; return 'created', 'updated' or 'unchanged'."""
    template = load_po(str(pot_path))
    if not Path(po_path).exists():
        _new_header(template, name)
        _drop_format_flags(template)
        dump_po(str(po_path), template, width=LINE_WIDTH, include_previous=True)
        return 'created'
    catalog = load_catalog(po_path)
    before = _snapshot(catalog)
    previous = {m.id: m.previous_id for m in catalog if m.id and m.fuzzy and m.previous_id}
    catalog.update(template, no_fuzzy_matching=False)
    for message in catalog:
        if message.id and message.fuzzy and not message.string:
            # matched to an old message that had no translation either: just untranslated
            message.flags.discard('fuzzy')
            message.previous_id = []
        elif message.id and message.fuzzy and not message.previous_id:
            # babel forgets the old English of a message whose English did not change
            message.previous_id = previous.get(message.id, [])
    for key in [k for k, m in catalog.obsolete.items() if not m.string]:
        del catalog.obsolete[key]  # an old message nobody translated tells nothing
    _drop_format_flags(catalog)
    if _snapshot(catalog) == before:
        return 'unchanged'
    dump_po(str(po_path), catalog, width=LINE_WIDTH, include_previous=True)
    return 'updated'


def update(source=REPO, pot_dir=None):
    """Extract the English messages and merge them into every catalog; print what changed."""
    pot_dir = extract(source, pot_dir)
    root = catalog_root(source)
    found = templates(pot_dir)
    for name, pot in found.items():
        po = root / f'{name}.po'
        po.parent.mkdir(parents=True, exist_ok=True)
        print(f'{update_catalog(pot, po, name):9}  {po.relative_to(source)}')
    for po in sorted(root.rglob('*.po')):
        name = po.relative_to(root).with_suffix('').as_posix()
        if name not in found:
            print(f'stale      {po.relative_to(source)}: its page is no longer in the '
                  'book; delete it (git rm) unless the page comes back')


# ---------------------------------------------------------------- checking

def markup(text):
    """Return the markup spans of a message that a translation must keep (MARKUP)."""
    return MARKUP.findall(text)


# A role with explicit link text, {ref}`the text <label>`: the text is prose and may be
# translated; the role and the label must stay.
LINK_TEXT_ROLE = re.compile(r'\{([A-Za-z][\w:+.-]*)\}`[^`<]*<([^>`]+)>`')


def _kept(span, msgstr):
    """True if `msgstr` keeps `span`: verbatim, or with its link text translated."""
    if span in msgstr:
        return True
    role = LINK_TEXT_ROLE.fullmatch(span)
    if role is None:
        return False
    name, label = (re.escape(part) for part in role.groups())
    return re.search(r'\{' + name + r'\}`[^`<]+<' + label + '>`', msgstr) is not None


def lost_markup(msgid, msgstr):
    """Return the markup spans of `msgid` that `msgstr` does not keep.

    Kept means verbatim, except the link text of a role such as
    {ref}`the text <label>`, which is prose and may be translated.
    """
    return [span for span in dict.fromkeys(markup(msgid)) if not _kept(span, msgstr)]


@dataclass
class CatalogState:
    """How one catalog compares with the English source it translates."""

    name: str
    path: Path
    exists: bool = True
    total: int = 0
    untranslated: list = field(default_factory=list)
    fuzzy: list = field(default_factory=list)
    missing: list = field(default_factory=list)   # in the English, not in the catalog
    broken: list = field(default_factory=list)    # (msgid, lost markup)

    @property
    def translated(self):
        return self.total - len(self.untranslated) - len(self.fuzzy) - len(self.missing)

    @property
    def complete(self):
        return self.exists and not (self.untranslated or self.fuzzy or self.missing
                                    or self.broken)

    def summary(self, source=REPO):
        """Return one line: the catalog, and how far it is from the English source."""
        where = _shown(self.path, source)
        if not self.exists:
            return (f'{where}: missing ({self.total} English messages); '
                    'create it with `python tools/i18n.py update`')
        parts = [f'{self.translated} of {self.total} translated']
        for label, items in (('untranslated', self.untranslated), ('fuzzy', self.fuzzy),
                             ('not in the catalog (run update)', self.missing),
                             ('with broken markup', self.broken)):
            if items:
                parts.append(f'{len(items)} {label}')
        return f'{where}: ' + ', '.join(parts)


def _shown(path, source):
    """Return `path` relative to the book when it is inside it."""
    try:
        return Path(path).relative_to(Path(source).resolve()).as_posix()
    except ValueError:
        return str(path)


def compare(pot_path, po_path, name):
    """Compare a catalog with the template of its page; return a CatalogState."""
    template = load_po(str(pot_path))
    english = [m.id for m in template if m.id]
    state = CatalogState(name, Path(po_path), total=len(english))
    if not Path(po_path).is_file():
        state.exists = False
        return state
    catalog = load_catalog(po_path)
    for msgid in english:
        message = catalog.get(msgid)
        if message is None:
            state.missing.append(msgid)
        elif not message.string:
            state.untranslated.append(msgid)
        elif message.fuzzy:
            state.fuzzy.append(msgid)
        else:
            lost = lost_markup(msgid, message.string)
            if lost:
                state.broken.append((msgid, lost))
    return state


def report(source=REPO, pot_dir=None):
    """Extract the English messages and compare every catalog of the book with them."""
    source = Path(source).resolve()
    pot_dir = extract(source, pot_dir)
    found = templates(pot_dir)
    root = catalog_root(source).resolve()
    states = []
    for name in catalog_names(source):
        if name not in found:
            raise SystemExit(f'no English messages were extracted for {name!r} '
                             f'(expected {pot_dir / name}.pot)')
        states.append(compare(found[name], root / f'{name}.po', name))
    return states


def stale_catalogs(source=REPO):
    """Return the catalogs whose page is not in the book (left after a page was removed)."""
    root = catalog_root(source)
    wanted = set(catalog_names(source))
    return [po for po in sorted(root.rglob('*.po'))
            if po.relative_to(root).with_suffix('').as_posix() not in wanted]


def _short(text, width=100):
    text = ' '.join(text.split())
    return text if len(text) <= width else text[:width - 3] + '...'


def print_status(states, source=REPO, listing=False):
    """Print one line per catalog and, with `listing`, the messages still to translate."""
    for state in states:
        print(state.summary(source))
        for label, items in (('untranslated', state.untranslated), ('fuzzy', state.fuzzy),
                             ('not in the catalog', state.missing)):
            for msgid in items if listing else ():
                print(f'    {label:>12}: {_short(msgid)}')
        for msgid, lost in state.broken:
            print(f'    {"broken":>12}: {_short(msgid)}\n'
                  f'{"":>18}the translation lacks {lost}')
    total = sum(s.total for s in states)
    done = sum(s.translated for s in states if s.exists)
    print(f'{done} of {total} messages translated in {len(states)} catalogs')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('extract', 'update', 'status', 'check'))
    parser.add_argument('--source', type=Path, default=REPO, help='the book folder')
    parser.add_argument('--pot-dir', type=Path, help='default: SOURCE/_build/gettext')
    parser.add_argument('--list', action='store_true',
                        help='status: list the messages still to translate')
    args = parser.parse_args(argv)
    if args.command == 'extract':
        print(f'templates in {extract(args.source, args.pot_dir)}')
    elif args.command == 'update':
        update(args.source, args.pot_dir)
    else:
        states = report(args.source, args.pot_dir)
        print_status(states, args.source, listing=args.list)
        stale = stale_catalogs(args.source)
        for po in stale:
            print(f'{_shown(po, args.source)}: stale, its page is no longer in the book')
        if args.command == 'check' and (stale or not all(s.complete for s in states)):
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
