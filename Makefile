# The README's two commands: `make demo` (index + match + report on the demo catalogue)
# and `make test`. Both set everything up on a fresh Debian/Ubuntu machine.
.PHONY: setup demo test bench
PY := .venv/bin/python

setup:
	@bash scripts/ensure-ffmpeg.sh
	@bash scripts/venv.sh >/dev/null

demo: setup
	@bash scripts/demo.sh

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench.throughput
