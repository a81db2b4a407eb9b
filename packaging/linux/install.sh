#!/usr/bin/env bash
# Installs the unpacked Parley bundle for the current user (no root needed):
#   ~/.local/lib/parley/            the app (a copy of this folder)
#   ~/.local/bin/parley             a link to it, for the terminal
#   ~/.local/share/applications/parley.desktop   the menu entry
#   ~/.local/share/icons/hicolor/…/parley.{svg,png}
# Usage: ./install.sh            install or update
#        ./install.sh --uninstall  remove the app (your settings, history and
#                                  models stay; `parley doctor` shows where)
# PREFIX (default ~/.local) and XDG_DATA_HOME move the install.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
data=${XDG_DATA_HOME:-$HOME/.local/share}
app_dir=$prefix/lib/parley
bin_link=$prefix/bin/parley
desktop=$data/applications/parley.desktop
icons=$data/icons/hicolor

refresh_menus() {
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
  command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$icons" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$desktop" "$icons/scalable/apps/parley.svg" "$icons/256x256/apps/parley.png"
  [ -L "$bin_link" ] && rm -f "$bin_link"
  # Only a folder this script made (it holds the bundle's marker file) is removed.
  [ -f "$app_dir/parley-bundle.txt" ] && rm -rf "$app_dir"
  refresh_menus
  echo "Parley is uninstalled. Your settings, history and models were kept."
  exit 0
fi
if [ -n "${1:-}" ]; then
  echo "usage: $0 [--uninstall]" >&2
  exit 2
fi
if [ ! -x "$here/parley" ] || [ ! -d "$here/_internal" ]; then
  echo "install.sh must run from the unpacked Parley folder (parley and _internal/ beside it)." >&2
  exit 1
fi

mkdir -p "$prefix/bin" "$prefix/lib" "$data/applications" "$icons/scalable/apps" "$icons/256x256/apps"
if [ "$here" != "$app_dir" ]; then
  if [ -e "$app_dir" ] && [ ! -f "$app_dir/parley-bundle.txt" ]; then
    echo "$app_dir exists and is not a Parley install: move it away first." >&2
    exit 1
  fi
  # Copy beside, then swap: an update never leaves a half-copied app.
  rm -rf "$app_dir.new"
  cp -a "$here" "$app_dir.new"
  rm -rf "$app_dir"
  mv "$app_dir.new" "$app_dir"
fi
ln -sfn "$app_dir/parley" "$bin_link"
cp "$app_dir/parley.svg" "$icons/scalable/apps/parley.svg"
cp "$app_dir/parley.png" "$icons/256x256/apps/parley.png"
# Absolute paths: a menu launched from the desktop session may not have
# ~/.local/bin on its PATH.
sed -e "s|^Exec=parley|Exec=$app_dir/parley|" "$app_dir/parley.desktop" >"$desktop"
refresh_menus
echo "Parley is installed: find it in your applications menu, or run $bin_link"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "(add $prefix/bin to your PATH to type just 'parley')" ;;
esac
