# The README's two commands: `make demo` (index + match + report on the demo catalogue)
# and `make test`. Both set everything up on a fresh Debian/Ubuntu machine.
.PHONY: setup demo test bench bench-accuracy bench-query bench-scale bench-false-matches bench-frames bench-frames-folds bench-catalogue bench-long bench-audio
PY := .venv/bin/python

setup:
	@bash scripts/ensure-tools.sh ffmpeg=ffmpeg ffprobe=ffmpeg
	@bash scripts/venv.sh >/dev/null

demo: setup
	@bash scripts/demo.sh

# the tests also render reports in a real browser and read the PDF back with poppler
test: setup
	@bash scripts/ensure-tools.sh chromium=chromium pdftotext=poppler-utils pdfimages=poppler-utils
	$(PY) -m pytest -q

bench: setup
	$(PY) -m bench.throughput

# matching quality against the vPDQ and MPEG-7 signature anchors (bench/anchors.py), after the
# anchors' own check on a natural copy pair (bench/test_anchors.py)
bench-accuracy: setup
	@bash scripts/ensure-tools.sh pkg-config=pkg-config cmake=cmake =python3-dev =libavcodec-dev \
	  =libavformat-dev =libavdevice-dev =libavutil-dev =libswscale-dev =libswresample-dev =libavfilter-dev
	@bash -c 'source scripts/setup-log.sh && step "installing the anchors (vpdq, imageio-ffmpeg)" \
	  .venv/bin/python -m pip install --progress-bar off -c constraints.txt -e ".[anchors]"'
	$(PY) -m pytest -q -p no:cacheprovider bench/test_anchors.py
	$(PY) -m bench.accuracy

# warm query cost per suspect minute against decode-only, on the accuracy benchmark's queries
bench-query: setup
	$(PY) -m bench.query_cost

# index scale: latency, memory and recall at 1M and 10M vectors (about 30 minutes on 2 cores)
bench-scale: setup
	$(PY) -m bench.scale

# the tail of the scores of real non-copies, its extreme-value fit and the decision threshold it
# implies at 1k, 10k and 100k catalogue hours (about 15 minutes on 2 cores, cached for reruns)
bench-false-matches: setup
	$(PY) -m bench.false_matches

# frame-level copy detection per edit, the ImageNet features against fp-visual-v1, on clips it never
# trained on (about 1.5 minutes on 2 idle cores)
bench-frames: setup
	$(PY) -m bench.frames

# the same over every title, by cross-validation of fp-visual-v1's training recipe (about 5 minutes
# on 2 cores the first time)
bench-frames-folds: setup
	$(PY) -m bench.frames_folds

# catalogue scale: 1, 10, 100 and 1,000 hours of feature-length titles with a planted copy, size, write,
# open and query costs projected to 100k hours; `fp index` on real long titles (about 20 minutes on 2 cores)
bench-catalogue: setup
	$(PY) -m bench.catalogue_scale

# one two-hour title: fp index's time and peak memory, and a copy from its 96th minute matched
# (about 6 minutes on 2 cores)
bench-long: setup
	$(PY) -m bench.long_title

# audio top-1 per condition (noise, mp3, speed, pitch shift, camcord room) against Chromaprint
# (fpcalc) with offset voting (about 6 minutes on 2 cores)
bench-audio: setup
	@bash scripts/ensure-tools.sh fpcalc=libchromaprint-tools
	$(PY) -m bench.audio
