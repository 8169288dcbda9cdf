# imtest and siblings: build, test, demo, install. The two commands a newcomer needs are
# `make demo` and `make test`; both install missing Debian packages first.
#
#   make                      release build (target/release/imtest)
#   make install              binary + sibling links in $(BINDIR), man pages in $(MANDIR)
#   make uninstall            removes exactly what `make install` put there
#
# Install variables: PREFIX (/usr/local), BINDIR ($(PREFIX)/bin; Debian's cyrus-clients uses
# /usr/lib/cyrus/bin), MANDIR ($(PREFIX)/share/man), DESTDIR (staging root, empty).
# `make install` builds the binary only if it is missing: run `make` first as yourself.

CARGO ?= cargo
INSTALL ?= install

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=

# The names that are links to `imtest` (the protocol comes from the name).
SIBLINGS := pop3test smtptest lmtptest sivtest nntptest mupdatetest httptest synctest
BIN := $(or $(CARGO_TARGET_DIR),target)/release/imtest

.PHONY: all build release deps test demo bench clean lab lab-down install uninstall fuzz fuzz-smoke \
	dist buildd-check

all: release

deps:
	@./scripts/install-deps.sh

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

test: deps
	@./scripts/check-structure.sh
	$(CARGO) test --locked
	@./scripts/fuzz.sh smoke $(FUZZ_SMOKE_SECONDS)
	@$(MAKE) --no-print-directory buildd-check

# `make test` first checks the structure (scripts/check-structure.sh): no import cycle in src/,
# and every docs/ section cited in src/ and tests/ exists.

# The Debian source package in dist/ (3.0 quilt; the locked crates, pruned, as a second
# tarball): builds offline afterwards. docs/packaging.md explains it.
dist:
	@./scripts/dist.sh

# dist/ built in a clean Debian 13 chroot (debootstrap, cached in /var/cache/imtest-rs-buildd)
# with no network and Debian's rustc 1.85, then lintian, the install next to cyrus-clients +
# cyrus-murder and the switch, and the autopkgtest. Needs root.
buildd-check: deps dist
	@./scripts/buildd-check.sh

# Fuzz targets (fuzz/, cargo-fuzz; installed if missing): `make fuzz` runs each for
# FUZZ_SECONDS and adds new inputs to fuzz/corpus/; `make fuzz-smoke` is the short run of
# `make test` from the saved corpus.
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 4

fuzz:
	@./scripts/fuzz.sh long $(FUZZ_SECONDS)

fuzz-smoke:
	@./scripts/fuzz.sh smoke $(FUZZ_SMOKE_SECONDS)

demo: release
	@./scripts/demo.sh

# Ours against the C tool on a throw-away Dovecot; writes bench/RESULTS.md.
bench: release
	@BENCH_OURS=$(BIN) ./bench/run.sh

# A throw-away Dovecot + Postfix + Cyrus on 127.0.0.1 high ports (scripts/lab.sh), left running;
# prints the ports and ready-to-paste command lines. `make lab-down` stops it.
LAB_DIR ?= /tmp/imtest-lab

lab: release
	@./scripts/lab.sh up $(LAB_DIR) >/dev/null
	@./scripts/lab.sh info $(LAB_DIR) $(CURDIR)/target/release/imtest

lab-down:
	@./scripts/lab.sh down $(LAB_DIR)
	@echo "lab in $(LAB_DIR) stopped"

clean:
	$(CARGO) clean
	rm -rf dist

$(BIN):
	$(CARGO) build --locked --release

install: $(BIN)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1'
	$(INSTALL) -m 755 '$(BIN)' '$(DESTDIR)$(BINDIR)/imtest'
	$(INSTALL) -m 644 man/imtest.1 '$(DESTDIR)$(MANDIR)/man1/imtest.1'
	for name in $(SIBLINGS); do \
	  ln -sfn imtest '$(DESTDIR)$(BINDIR)/'$$name && \
	  ln -sfn imtest.1 '$(DESTDIR)$(MANDIR)/man1/'$$name.1 || exit 1; \
	done

uninstall:
	rm -f '$(DESTDIR)$(BINDIR)/imtest' '$(DESTDIR)$(MANDIR)/man1/imtest.1'
	for name in $(SIBLINGS); do \
	  rm -f '$(DESTDIR)$(BINDIR)/'$$name '$(DESTDIR)$(MANDIR)/man1/'$$name.1; \
	done
