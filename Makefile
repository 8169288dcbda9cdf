# imtest and siblings: build, test, demo. The two commands a newcomer needs are
# `make demo` and `make test`; both install missing Debian packages first.

CARGO ?= cargo

.PHONY: all build release deps test demo bench clean lab lab-down

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

# A throw-away Dovecot + Postfix on 127.0.0.1 high ports (scripts/lab.sh), left running;
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
