#!/usr/bin/env bash
# The main job end to end on the demo catalogue: index it, make a pirated copy, match the
# suspects, write the report. Run through `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
fp=.venv/bin/fp
out=build/demo
rm -rf "$out/index"  # registered afresh each time: an index of an earlier fp's weights would refuse
mkdir -p "$out"

echo "== 1. register the catalogue (examples/catalogue) =="
"$fp" index examples/catalogue --index "$out/index"
"$fp" info --index "$out/index"

echo
echo "== 2. make a pirated copy: excerpt cropped 10 %, 360p, crf 35, inside unrelated footage =="
.venv/bin/python - "$out" <<'PY'
import sys
from pathlib import Path
from fp.data.edits import Clip, pirate, splice

out = Path(sys.argv[1])
excerpt = pirate(Clip("examples/catalogue/car_detection.mp4", 9.0, 12.0), out / "excerpt.mp4",
                 edits=["crop10"], height=360, crf=35)
host = "examples/suspects/bottle_detection_clean.mp4"
splice([Clip(host, 0, 8), Clip(str(excerpt), 0, 12), Clip(host, 20, 10)], out / "pirated_car.mp4")
print(f"{out / 'pirated_car.mp4'}: car_detection.mp4 9-21 s copied at 8-20 s")
PY

echo
echo "== 3. check suspects =="
suspects=("$out/pirated_car.mp4" examples/suspects/bbb_480p_reupload.mp4 examples/suspects/bottle_detection_clean.mp4)
reports=(--report "$out/report.html" --report "$out/report.json")
# a PDF too where Chromium can print it (`make test` installs it)
pdfs=""
if command -v chromium >/dev/null; then reports+=(--report "$out/report.pdf"); pdfs="; PDF: $out/report-*.pdf"; fi
status=0
"$fp" match "${suspects[@]}" --index "$out/index" "${reports[@]}" || status=$?
echo
echo "== 4. evidence =="
echo "HTML reports (open in a browser): $out/report-*.html; JSON: $out/report-*.json$pdfs"
"$fp" history --index "$out/index" --limit 3
# exit 0: a match was found (as it should be here); anything else is a failure of the demo
exit "$status"
