# The reader editions (README, "Editions: Chinese and PDF"): the Chinese HTML edition,
# built by Sphinx's translation mechanism from the same chapters and stored outputs,
# and a PDF of each edition. `make test` builds both (see its prerequisites).
.PHONY: book-zh pdf i18n-update i18n-status

EDITION_TOOLS := tools/editions.py tools/sphinx_editions.py
ZH_CATALOGS := $(shell find locales -name '*.po' 2>/dev/null)
TEMPLATES := $(wildcard _templates/*)

# The English book shows the language switch too.
_build/.book-built: $(TEMPLATES)

book-zh: _build/.book-zh-built

# Into _build/html/zh/, inside the English edition (`make book`) that it links to.
_build/.book-zh-built: $(STAMP) $(BOOK_SOURCES) $(ZH_CATALOGS) $(TEMPLATES) $(EDITION_TOOLS)
	$(BIN)/python tools/editions.py html zh
	touch $@
	@echo "The Chinese edition is in _build/html/zh/index.html"

pdf: _build/.pdf-built

# _build/pdf/softmax-regression-en.pdf and -zh.pdf, printed by headless Chromium.
_build/.pdf-built: $(STAMP) $(BOOK_SOURCES) $(ZH_CATALOGS) $(TEMPLATES) $(EDITION_TOOLS) tools/pdf.py
	$(BIN)/python tools/pdf.py
	touch $@

# After a change to the English text: bring locales/zh_CN/LC_MESSAGES/*.po up to date.
i18n-update: $(STAMP)
	$(BIN)/python tools/i18n.py update

# What is left to translate, catalog by catalog and message by message.
i18n-status: $(STAMP)
	$(BIN)/python tools/i18n.py status --list
