# Sourced by the set-up scripts. `step "what" COMMAND...` prints one progress line on stderr and
# sends everything COMMAND says to the set-up log (build/setup.log, or $FP_SETUP_LOG); when it
# fails, the log's last lines are shown and the script stops.
SETUP_LOG=${FP_SETUP_LOG:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/setup.log}
SETUP_LOG_TAIL=40
mkdir -p "$(dirname "$SETUP_LOG")"

step() {
  local what=$1
  shift
  echo "setup: $what" >&2
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $what: $*" >>"$SETUP_LOG"
  if ! "$@" >>"$SETUP_LOG" 2>&1; then
    echo "error: $what failed; the last lines of $SETUP_LOG:" >&2
    tail -n "$SETUP_LOG_TAIL" "$SETUP_LOG" >&2
    exit 1
  fi
}
