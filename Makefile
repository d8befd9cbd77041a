# The README's two commands: `make demo` and `make test`. Both set up what is missing first.
.PHONY: demo test setup build bench clean

setup:
	bash scripts/setup-host.sh

build: setup
	cargo build --release

demo: setup
	python3 -m pip install -q --disable-pip-version-check ./python
	python3 examples/demo.py

test:
	bash scripts/test-all.sh

bench: setup
	bash benchmarks/python/compare.sh

clean:
	cargo clean
	rm -rf build
