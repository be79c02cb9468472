"""The book's pages in reading order, as the table of contents `_toc.yml` lists them.

One reader of `_toc.yml` (Jupyter Book 1.x, format jb-book) for every tool that needs
the pages: the export of the `#@save` cells, the catalogs of the Chinese edition, the
benchmark and the browser and PDF checks.
"""
import re
from pathlib import Path

import yaml


def _name(entry):
    """Return a document name without its suffix: chapters/softmax."""
    return re.sub(r'\.(md|ipynb)$', '', entry)


def _walk(entries, found):
    for entry in entries or []:
        if 'file' in entry:
            found.append(_name(entry['file']))
        for key in ('chapters', 'sections'):
            _walk(entry.get(key), found)


def pages(toc_file):
    """Return the document names of `toc_file` in reading order, the root first."""
    toc = yaml.safe_load(Path(toc_file).read_text(encoding='utf-8'))
    found = [_name(toc['root'])]
    _walk(toc.get('chapters'), found)
    for part in toc.get('parts') or []:
        _walk(part.get('chapters'), found)
    return found


def part_pages(toc_file, caption):
    """Return the document names of the parts of `toc_file` with this caption."""
    toc = yaml.safe_load(Path(toc_file).read_text(encoding='utf-8'))
    found = []
    for part in toc.get('parts') or []:
        if part.get('caption') == caption:
            _walk(part.get('chapters'), found)
    return found
