#!/usr/bin/env bash
# Makes sure ffmpeg and ffprobe are on PATH: installs Debian's package when possible,
# otherwise says in one line what to install.
set -euo pipefail
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then exit 0; fi
if command -v apt-get >/dev/null; then
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  if [ "$sudo" != none ]; then
    echo "installing ffmpeg with apt-get..." >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ffmpeg >&2
    exit 0
  fi
fi
echo "error: fp needs ffmpeg and ffprobe on PATH; install them (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)" >&2
exit 1
