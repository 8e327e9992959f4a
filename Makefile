# The README's two commands: `make demo` (index + match + report on the demo catalogue)
# and `make test`. Both set everything up on a fresh Debian/Ubuntu machine.
.PHONY: setup demo test bench
PY := .venv/bin/python

setup:
	@bash scripts/ensure-tools.sh ffmpeg=ffmpeg ffprobe=ffmpeg
	@bash scripts/venv.sh >/dev/null

demo: setup
	@bash scripts/demo.sh

# the tests also render reports in a real browser
test: setup
	@bash scripts/ensure-tools.sh chromium=chromium
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench.throughput
