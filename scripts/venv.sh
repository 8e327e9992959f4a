#!/usr/bin/env bash
# Creates the virtual environment for this pyproject.toml + constraints.txt (once per content
# hash, kept outside the clone like a CI cache keyed on a lock file), installs this clone into it
# in editable mode, links it as .venv and prints its path. One progress line per step on stderr;
# what pip says goes to the set-up log (see setup-log.sh), shown when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-log.sh
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: fp needs Python 3.11 or newer as python3" >&2; exit 1; }
key=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
root=${FP_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/fp-match/venvs}
venv=$root/$key
pip_install() { "$venv/bin/pip" install --progress-bar off "$@"; }
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  step "creating the environment $venv" python3 -m venv "$venv"
  step "updating pip" pip_install --upgrade pip
  step "installing the dependencies (torch and friends: a few GB the first time)" \
    pip_install -c constraints.txt ".[test]"
  touch "$venv/.complete"
  # keep this environment and the one used before it; older ones are 5 GB each
  ls -1dt "$root"/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
fi
step "installing this clone into $venv" pip_install --no-deps -c constraints.txt -e .
ln -sfn "$venv" .venv
echo "$venv"
