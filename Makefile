# ip-masq — every entry point a developer, CI or a newcomer uses.
# `make demo` and `make test` are the two README commands; both install what they need.

SHELL := /bin/bash
NODE_BUNDLE := dist/ip-masq.js
SOURCES := $(shell find daemon/src -name '*.ts') package.json scripts/build.mjs
VITEST := npx --no-install vitest run

.PHONY: all deps system-deps build typecheck test test-unit test-integration test-reliability \
        demo package lint-packages e2e bench bench-quick ci clean check format format-check lint

all: build

# System packages the tests and the demo drive for real (nft, iptables, ip netns, …).
system-deps:
	@bash scripts/system-deps.sh

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

$(NODE_BUNDLE): node_modules/.package-lock.json $(SOURCES)
	node scripts/build.mjs

build: $(NODE_BUNDLE)

# Incremental: a re-run only re-checks what changed (the state lives in node_modules/.cache).
typecheck: deps
	npx --no-install tsc --noEmit -p tsconfig.json --incremental --tsBuildInfoFile node_modules/.cache/ipmasq-tsc.tsbuildinfo

# Prettier (see docs/ARCHITECTURE.md, "Formatting"): the only style rules are the formatter's.
PRETTIER_FILES := 'daemon/**/*.ts' 'test/**/*.ts' 'bench/**/*.{ts,mjs}' 'scripts/**/*.mjs' 'packaging/**/*.mjs' '*.ts'
format: deps
	npx --no-install prettier --log-level warn --write $(PRETTIER_FILES)

format-check: deps
	npx --no-install prettier --log-level warn --check --cache $(PRETTIER_FILES)

# The architecture rules (docs/ARCHITECTURE.md, "Layers"): no import cycles, no upward imports,
# no source file over 400 lines.
lint: deps
	node scripts/lint-arch.mjs

# The fast inner loop: no root, no namespaces, no network.
check: typecheck format-check lint test-unit

# The README's test command: installs what is missing, type-checks, then unit + integration
# (real nft/iptables in throwaway network namespaces), then the slower suites.
test: system-deps deps build typecheck test-unit test-integration test-reliability
# Under `make test` (and so CI) a kernel test that would be skipped (not root, no nft) fails
# instead (test/helpers/netns.ts); a plain `make test-integration` skips it with the reason.
test: export IP_MASQ_REQUIRE_ROOT = 1

test-unit: deps
	$(VITEST) test/unit

test-integration: deps build
	$(VITEST) test/integration

test-reliability: deps build
	@if [ -d test/reliability ]; then $(VITEST) --config vitest.reliability.config.ts; fi

demo: system-deps deps build
	@bash scripts/demo.sh

package: deps build
	@bash packaging/build.sh

lint-packages: package
	@bash packaging/lint.sh

e2e: system-deps package
	@bash test/e2e/run.sh

bench: system-deps deps build
	node bench/run.mjs --full

bench-quick: system-deps deps build
	node bench/run.mjs --quick

ci: test lint-packages e2e bench-quick

clean:
	rm -rf dist coverage bench/out
