"""Sphinx extension for the book's reader editions, loaded only by `tools/editions.py`.

The English HTML book (`make book`) does not load it. It does four things:

* Display equations (`$$ ... $$`, `\\begin{aligned}`) are marked untranslatable, so
  the message catalogs hold only prose: an equation is the same in every language,
  and a copy of it in a catalog could only drift from the chapter.
* In a translated edition, the part captions of the table of contents are translated
  (from the root page's catalog, where Sphinx's gettext builder puts them).
* The singlehtml builder (the PDF) gets the HTML node visitors it would otherwise
  miss (see _share_html_visitors), and builds no search index.
* In a translated edition, the strings of the page chrome that are not in the
  chapters (the book's title and author from `_config.yml`, the search box's text,
  the theme's labels) are looked up in the chrome catalog `book.po`
  (`editions_chrome_catalog`), so that a Chinese page has no English around its text.
  The theme labels that Sphinx and pydata-sphinx-theme translate come from the same
  catalog copied as `sphinx.po` into the build's locale folder (see
  `tools/editions.py`); sphinx-book-theme's own catalog ("booktheme") is wrapped here.
"""
import gettext
import logging
from pathlib import Path

from babel.messages.pofile import read_po
from docutils import nodes
from sphinx import addnodes, locale
from sphinx.transforms import SphinxTransform
from sphinx.util.i18n import docname_to_domain

# The chrome strings that live in Sphinx's configuration rather than in a template.
CONFIG_STRINGS = ('html_title', 'author', 'project',
                  # MyST-NB's label of a hidden cell ("Show code cell source")
                  'nb_code_prompt_show', 'nb_code_prompt_hide')
THEME_OPTION_STRINGS = ('search_bar_text', 'toc_title')
# sphinx-book-theme looks its labels up in a catalog of its own.
THEME_CATALOGS = ('booktheme',)


class UntranslatableMath(SphinxTransform):
    """Mark display math untranslatable, before Sphinx's i18n transform (priority 20)."""

    default_priority = 10

    def apply(self, **kwargs):
        for node in self.document.findall(nodes.math_block):
            node['translatable'] = False


class TranslatedTocCaptions(SphinxTransform):
    """Translate the part captions of the table of contents (`_toc.yml`'s `caption:`).

    sphinx-external-toc inserts the root page's toctrees (priority 100) after Sphinx
    has translated the page (priority 20), so their captions would stay English; the
    gettext builder does extract them into the root page's catalog.
    """

    default_priority = 200  # after InsertToctrees, before the toctree collector (880)

    def apply(self, **kwargs):
        config = self.config
        if not config.language or config.language == 'en' or not config.locale_dirs:
            return
        domain = docname_to_domain(self.env.docname, config.gettext_compact)
        dirs = [str(Path(self.env.srcdir) / d) for d in config.locale_dirs]
        catalog, found = locale.init(dirs, config.language, domain)
        if not found:
            return
        for node in self.document.findall(addnodes.toctree):
            caption = node.get('rawcaption') or node.get('caption')
            if caption:
                node['rawcaption'] = caption
                node.apply_translated_message(caption, catalog.gettext(caption))


def chrome_translations(path):
    """Return {English: translation} for the translated, non-fuzzy entries of a .po file.

    A missing file gives no translations (the English edition, or a catalog not yet
    created by `tools/i18n.py update`), so the build still succeeds, in English chrome.
    """
    path = Path(path) if path else None
    if path is None or not path.is_file():
        return {}
    with path.open('rb') as f:
        catalog = read_po(f)
    return {m.id: m.string for m in catalog
            if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


class _Overrides(gettext.NullTranslations):
    """A translator that answers from a dict first and asks its fallback otherwise."""

    def __init__(self, mapping, fallback):
        super().__init__()
        self._mapping = mapping
        self.add_fallback(fallback)

    def gettext(self, message):
        return self._mapping.get(message) or super().gettext(message)


def _translate_config(app, config):
    """Replace the configuration's chrome strings by their translations, if any."""
    mapping = chrome_translations(config.editions_chrome_catalog)
    for name in CONFIG_STRINGS:
        value = getattr(config, name, None)
        if isinstance(value, str) and value in mapping:
            setattr(config, name, mapping[value])
    options = config.html_theme_options
    for name in THEME_OPTION_STRINGS:
        value = options.get(name)
        if isinstance(value, str) and value in mapping:
            options[name] = mapping[value]


def _wrap_theme_catalogs(app):
    """Put the chrome catalog in front of the themes' own message catalogs."""
    mapping = chrome_translations(app.config.editions_chrome_catalog)
    if not mapping:
        return
    for catalog in THEME_CATALOGS:
        key = ('general', catalog)
        locale.translators[key] = _Overrides(mapping, locale.translators[key])


def _quiet_jieba(app, config):
    """Keep jieba, which splits Chinese words for the search index, from logging its
    dictionary loading into every build's output."""
    if (config.language or '').startswith('zh'):
        try:
            import jieba
        except ImportError:
            return
        jieba.setLogLevel(logging.WARNING)


def _no_search_index(app):
    """A single-page build (the PDF) has no search page: index no words.

    The indexer itself stays (the page's language_data.js is written from it); only
    feeding it the page, seconds of word splitting for Chinese, is skipped.
    """
    if app.builder.name == 'singlehtml':
        app.builder.index_page = lambda pagename, doctree, title: None


def _share_html_visitors(app):
    """Give the singlehtml builder the node visitors that extensions registered for html.

    Sphinx looks a builder's visitors up by its name and falls back to its format
    ('html') only when no extension registered any under the name; sphinx-exercise
    registers some for 'singlehtml', so MyST-NB's (hidden code cells, ...) go missing.
    """
    name = app.builder.name
    if app.builder.format != 'html' or name == 'html':
        return
    handlers = app.registry.translation_handlers
    own = handlers.setdefault(name, {})
    for node, visitors in handlers.get('html', {}).items():
        own.setdefault(node, visitors)


def setup(app):
    app.add_config_value('editions_chrome_catalog', '', 'env', [str])
    app.add_transform(UntranslatableMath)
    app.add_transform(TranslatedTocCaptions)
    app.connect('config-inited', _translate_config)
    app.connect('config-inited', _quiet_jieba)
    app.connect('builder-inited', _wrap_theme_catalogs)
    app.connect('builder-inited', _share_html_visitors)
    app.connect('builder-inited', _no_search_index)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
