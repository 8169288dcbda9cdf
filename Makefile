# imtest and siblings: build, test, demo. The two commands a newcomer needs are
# `make demo` and `make test`; both install missing Debian packages first.

CARGO ?= cargo

.PHONY: all build release deps test demo bench clean

all: release

deps:
	@./scripts/install-deps.sh

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

test: deps
	$(CARGO) test --locked

demo: release
	@./scripts/demo.sh

# Ours against the C tool on a throw-away Dovecot; writes bench/RESULTS.md (issue 8).
bench: release
	@./bench/run.sh

clean:
	$(CARGO) clean
