#!/usr/bin/env bash
# Makes sure system tools are on PATH: `ensure-tools.sh COMMAND=DEBIAN_PACKAGE ...` (`=PACKAGE`:
# a package with no command of its own, such as a library's headers).
# Missing ones are installed with apt when possible (root or passwordless sudo), one progress line
# per step, apt's output in the set-up log (see setup-log.sh); otherwise one line says what to
# install.
set -euo pipefail
source "$(dirname "$0")/setup-log.sh"
missing=()
for spec in "$@"; do
  cmd=${spec%%=*} package=${spec#*=}
  if [ -n "$cmd" ]; then command -v "$cmd" >/dev/null || missing+=("$package")
  else dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=(); elif sudo -n true 2>/dev/null; then sudo=(sudo -n); else sudo=(none); fi
  if [ "${sudo[*]}" != none ]; then
    step "updating apt's package lists" "${sudo[@]}" apt-get update -q
    step "installing ${packages[*]} with apt-get" \
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${packages[@]}"
    exit 0
  fi
fi
echo "error: fp needs ${packages[*]}; install them (Debian/Ubuntu: sudo apt-get install ${packages[*]})" >&2
exit 1
