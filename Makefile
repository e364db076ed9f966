# Cadence — see README.md. `make test` is what CI runs (through .ci/run).
DOTNET ?= dotnet
CONFIG ?= Release
CLI = src/Cadence.Cli/bin/$(CONFIG)/net10.0/linux-x64/cadence

PREFIX ?= $(HOME)/.local

.PHONY: setup build test demo demo-images bench pack install clean

setup:
	@bash scripts/setup.sh

build: setup
	$(DOTNET) build Cadence.sln -c $(CONFIG) -nologo -clp:ErrorsOnly

test: build
	@bash scripts/test.sh $(CONFIG)

demo: build
	@bash scripts/demo.sh $(CONFIG)

# An image folder end to end: Fashion-MNIST as PNG folders in out/, trained from there, then predict (README: your own images).
demo-images: build
	@bash scripts/demo-images.sh $(CONFIG)

bench: build
	@bash scripts/setup.sh --bench
	@bash bench/run.sh $(if $(QUICK),--quick,$(if $(FULL),--full,))

pack: build
	rm -rf artifacts
	$(DOTNET) pack Cadence.sln -c $(CONFIG) -o artifacts -nologo

# ./cadence runs the build from the repository; this puts it on your PATH as $(PREFIX)/bin/cadence.
install: build
	mkdir -p $(PREFIX)/bin
	ln -sf $(CURDIR)/cadence $(PREFIX)/bin/cadence
	@echo "installed $(PREFIX)/bin/cadence -> $(CURDIR)/cadence (is $(PREFIX)/bin on your PATH?)"

clean:
	rm -rf artifacts TestResults */*/bin */*/obj
