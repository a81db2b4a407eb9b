#!/usr/bin/env bash
# Debian/Ubuntu packages Parley needs at run time (speech engines, audio) and
# for its tests (virtual audio, test speech, a virtual screen for Qt).
# Usage: scripts/system-packages.sh [--test]
set -euo pipefail

runtime=(espeak-ng libespeak-ng1 libportaudio2 libasound2-plugins alsa-utils
  libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
  libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0
  libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3 libglib2.0-0)
# llama-cpp-python is compiled when pip has no wheel for this machine.
build=(build-essential python3-venv)
testing=(flite pulseaudio pulseaudio-utils pocketsphinx-testdata xvfb strace sox
  desktop-file-utils)

wanted=("${runtime[@]}" "${build[@]}")
[ "${1:-}" = "--test" ] && wanted+=("${testing[@]}")

command -v apt-get >/dev/null || {
  echo "Not a Debian/Ubuntu system: install the equivalents of: ${wanted[*]}" >&2
  exit 0
}
missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "Installing system packages: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
