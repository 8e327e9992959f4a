#!/usr/bin/env bash
# Sets up .venv, this clone's virtual environment, and prints its path. The dependencies (torch
# and friends, a few GB) live in one environment per pyproject.toml + constraints.txt content
# hash, kept outside the clone like a CI cache keyed on a lock file and shared by every clone of
# that content; .venv is a small environment of this clone's own that sees those packages (a
# .pth file) and holds this clone in editable mode, so two clones never run each other's code.
# One progress line per step on stderr; what pip says goes to the set-up log (see setup-log.sh),
# shown when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup-log.sh
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "error: fp needs Python 3.11 or newer as python3" >&2; exit 1; }
key=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
root=${FP_VENV_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/fp-match/venvs}
shared=$root/$key
pip_install() { "$shared/bin/pip" install --progress-bar off "$@"; }
site_packages() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))'; }
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9
if [ ! -f "$shared/.complete" ]; then
  rm -rf "$shared"
  step "creating the shared environment $shared" python3 -m venv "$shared"
  step "updating pip" pip_install --upgrade pip
  step "installing the dependencies (torch and friends: a few GB the first time)" \
    pip_install -c constraints.txt ".[test]"
  step "keeping the dependencies only" "$shared/bin/pip" uninstall --yes fp-match
  touch "$shared/.complete"
  # keep this environment and the one used before it; older ones are 5 GB each
  ls -1dt "$root"/*/ 2>/dev/null | tail -n +3 | xargs -r rm -rf
fi
# an older layout linked .venv to the shared environment itself
[ -L .venv ] && rm .venv
link="import site; site.addsitedir('$(site_packages "$shared")')"
if [ ! -x .venv/bin/python ] || [ "$(cat "$(site_packages .venv)/fp-shared.pth" 2>/dev/null)" != "$link" ]; then
  rm -rf .venv
  step "creating this clone's environment .venv" python3 -m venv --without-pip .venv
  echo "$link" >"$(site_packages .venv)/fp-shared.pth"
fi
step "installing this clone into .venv" .venv/bin/python -m pip install --progress-bar off --no-deps \
  -c constraints.txt -e .
echo "$PWD/.venv"
