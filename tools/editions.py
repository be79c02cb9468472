"""Build one edition of the book with Jupyter Book's Sphinx engine: `make book-zh`, `make pdf`.

The English and the Chinese editions are built from the same chapters and the same
stored outputs (no chapter is executed here). The Chinese one is Sphinx's own
translation mechanism at work: `language = zh_CN`, and the message catalogs in
`locales/zh_CN/LC_MESSAGES/` (one `.po` file per page, see `tools/i18n.py`) replace
each paragraph, heading, list item, admonition, exercise and solution by its
translation; code, outputs, figures and equations are the English ones.

    python tools/editions.py html zh        # the Chinese HTML edition in _build/html/zh/
    python tools/editions.py singlehtml en  # the whole book as one page, for the PDF
    python tools/editions.py gettext en     # message templates (.pot) in _build/gettext/

The Chinese HTML edition goes inside the English one (`_build/html/zh/`) so that the
two can be served together and each page can link to the same page in the other
edition (`_templates/language-switch.html`). Each build starts from a fresh Sphinx
environment (a few seconds) and treats any warning as an error.
"""
import argparse
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

# Jupyter Book validates _config.yml with jsonschema, whose import compiles the grammars
# of rfc3987-syntax (installed for JupyterLab) when present: 1.5 s of every build, for a
# URL format the book's configuration does not use. Without it jsonschema skips that one.
sys.modules.setdefault('rfc3987_syntax', None)

REPO = Path(__file__).resolve().parents[1]
TOOLS = Path(__file__).resolve().parent
BUILDERS = ('html', 'singlehtml', 'gettext')


@dataclass(frozen=True)
class Edition:
    """One reader edition: its Sphinx language and where its HTML goes inside _build/html."""

    name: str
    language: str
    html_subdir: str  # '' for the English edition at the root of _build/html
    label: str


EDITIONS = {
    'en': Edition('en', 'en', '', 'English'),
    'zh': Edition('zh', 'zh_CN', 'zh', '中文'),
}


def edition(name):
    """Return the Edition called `name`, or stop with the names that exist."""
    try:
        return EDITIONS[name]
    except KeyError:
        raise SystemExit(f'unknown edition {name!r}: expected one of '
                         f'{sorted(EDITIONS)}') from None


def catalog_dir(source, ed):
    """Return the folder of an edition's committed message catalogs (.po files)."""
    return Path(source) / 'locales' / ed.language / 'LC_MESSAGES'


def chrome_catalog(source, ed):
    """Return the catalog of the strings around the text: title, author, theme labels."""
    return catalog_dir(source, ed) / 'book.po'


def output_dir(build, builder, ed):
    """Return where a builder writes an edition, inside the build folder."""
    if builder == 'html':
        return Path(build) / 'html' / ed.html_subdir if ed.html_subdir else Path(build) / 'html'
    if builder == 'gettext':
        return Path(build) / 'gettext'
    return Path(build) / builder / ed.name


def staging_dir(build, builder, ed, out):
    """Return where Sphinx writes a build that ends up in `out`.

    An edition inside the English HTML is built next to it and then moved in:
    MyST-NB writes its scratch folder `jupyter_execute/` next to the output folder,
    which would otherwise land in the English site.
    """
    if builder == 'html' and ed.html_subdir and out == output_dir(build, builder, ed):
        return Path(build) / 'editions' / ed.name / 'html'
    return out


def prepare_locale(source, build, ed):
    """Copy the committed catalogs into the build folder; return that locale folder.

    Sphinx compiles each `.po` into a `.mo` next to it; building from a copy keeps the
    compiled files out of the repository. The chrome catalog is also copied as
    `sphinx.po`, the name under which Sphinx (and pydata-sphinx-theme, which adds its
    labels to Sphinx's catalog) look up the labels of the page templates first.
    """
    target = Path(build) / f'locale-{ed.name}'
    if target.exists():
        shutil.rmtree(target)
    lc = target / ed.language / 'LC_MESSAGES'
    lc.mkdir(parents=True)
    committed = catalog_dir(source, ed)
    if committed.is_dir():
        shutil.copytree(committed, lc, dirs_exist_ok=True)
    else:
        print(f'note: no catalogs in {committed}: the {ed.label} edition will be in English '
              f'(create them with `python tools/i18n.py update`)', file=sys.stderr)
    if (lc / 'book.po').is_file():
        shutil.copyfile(lc / 'book.po', lc / 'sphinx.po')
    return target


def base_extensions(source, config):
    """Return the Sphinx extensions Jupyter Book derives from `config` for the English book."""
    from jupyter_book.config import get_final_config

    sphinx_config, _ = get_final_config(user_yaml=Path(config),
                                        cli_config={'latex_individualpages': False},
                                        sourcedir=Path(source))
    return list(sphinx_config['extensions'])


def extensions(source, config, builder):
    """Return the English book's extensions plus `sphinx_editions`.

    Message templates need no MathJax: the offline copy (24 MB) is left out of them.
    """
    names = base_extensions(source, config) + ['sphinx_editions']
    if builder == 'gettext':
        names = [n for n in names if n != 'sphinx-mathjax-offline']
    return names


def overrides(source, build, builder, ed, config):
    """Return the Sphinx settings that make this build differ from `make book`'s."""
    source = Path(source).resolve()
    settings = {
        'external_toc_path': (source / '_toc.yml').as_posix(),
        'latex_individualpages': False,
        # Both editions show the outputs stored in the chapters.
        'nb_execution_mode': 'off',
        'extensions': extensions(source, config, builder),
        # One catalog per page, without line numbers that change at every edit.
        'gettext_compact': False,
        'gettext_location': False,
        'language': ed.language,
    }
    if ed.language != 'en':
        settings['locale_dirs'] = [prepare_locale(source, build, ed).resolve().as_posix()]
        settings['editions_chrome_catalog'] = chrome_catalog(source, ed).resolve().as_posix()
    return settings


def build(builder, ed, source=REPO, build_dir=None, config=None, out=None, quiet=True):
    """Build one edition with one Sphinx builder; return the output folder.

    Stops with the reason when Sphinx reports a warning or an error (every warning
    is an error here, as in `make book`), except when extracting messages: a broken
    reference in a chapter being written should not stop its text from reaching
    the catalogs.
    """
    from jupyter_book.sphinx import build_sphinx

    if builder not in BUILDERS:
        raise SystemExit(f'unknown builder {builder!r}: expected one of {BUILDERS}')
    source = Path(source).resolve()
    build_dir = Path(build_dir or source / '_build').resolve()
    config = Path(config or source / '_config.yml')
    if not config.is_file():
        raise SystemExit(f'no book configuration at {config}')
    out = Path(out or output_dir(build_dir, builder, ed)).resolve()
    target = staging_dir(build_dir, builder, ed, out)
    if target != build_dir / 'html':  # the English HTML holds the other editions: keep it
        shutil.rmtree(target, ignore_errors=True)
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))  # for the extension sphinx_editions
    status = build_sphinx(
        source, target, noconfig=True, path_config=str(config),
        confoverrides=overrides(source, build_dir, builder, ed, config),
        builder=builder, doctreedir=str(build_dir / '.doctrees-editions' / f'{builder}-{ed.name}'),
        freshenv=True, warningiserror=builder != 'gettext', keep_going=True, quiet=quiet)
    if status != 0:
        raise SystemExit(f'the {ed.label} {builder} build of {source} failed '
                         f'({status!r}): see the messages above')
    if target != out:
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(target, out)
    return out


def translation_summary(source, ed):
    """Return a line saying how much of an edition's catalogs is translated."""
    from babel.messages.pofile import read_po

    folder = catalog_dir(source, ed)
    done = total = 0
    for path in sorted(folder.rglob('*.po')):
        with path.open('rb') as f:
            for m in read_po(f):
                if m.id:
                    total += 1
                    done += bool(m.string) and not m.fuzzy
    return (f'{ed.label} catalogs: {done} of {total} messages translated '
            f'(`python tools/i18n.py status` lists the rest)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('builder', choices=BUILDERS)
    parser.add_argument('edition', choices=sorted(EDITIONS))
    parser.add_argument('--source', type=Path, default=REPO, help='the book folder')
    parser.add_argument('--build-dir', type=Path, help='default: SOURCE/_build')
    parser.add_argument('--out', type=Path, help='default: by builder and edition')
    parser.add_argument('--verbose', action='store_true', help="show Sphinx's progress")
    args = parser.parse_args(argv)
    ed = edition(args.edition)
    out = build(args.builder, ed, source=args.source, build_dir=args.build_dir,
                out=args.out, quiet=not args.verbose)
    print(f'{ed.label} {args.builder} build: {out}')
    if ed.language != 'en' and args.builder != 'gettext':
        print(translation_summary(args.source, ed))
    return 0


if __name__ == '__main__':
    sys.exit(main())
