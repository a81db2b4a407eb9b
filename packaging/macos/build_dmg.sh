#!/usr/bin/env bash
# Builds dist/Parley-<version>-macos-arm64.dmg from dist/Parley.app (made by
# `python -m PyInstaller packaging/parley.spec` on a Mac). The disk image holds
# the app and a link to /Applications, so installing is one drag.
# Signing and notarising happen when their variables are set
# (packaging/macos/SIGNING.md); without them the image is unsigned (the app
# inside is ad-hoc signed by PyInstaller, which Apple Silicon requires).
#   PARLEY_CODESIGN_IDENTITY   "Developer ID Application: Name (TEAMID)"
#   PARLEY_NOTARY_PROFILE      a keychain profile made with `xcrun notarytool store-credentials`
set -euo pipefail
cd "$(dirname "$0")/../.."

app=dist/Parley.app
[ -d "$app" ] || { echo "build_dmg.sh: $app not found: build it with packaging/parley.spec first" >&2; exit 1; }
version=$(/usr/libexec/PlistBuddy -c "Print :CFBundleShortVersionString" "$app/Contents/Info.plist")
arch=$(uname -m)
dmg=dist/Parley-$version-macos-$arch.dmg

if [ -n "${PARLEY_CODESIGN_IDENTITY:-}" ]; then
  # PyInstaller signed every binary with the identity; re-sign the bundle as a
  # whole with the hardened runtime and a timestamp, as notarisation demands.
  codesign --force --deep --options runtime --timestamp \
    --entitlements packaging/macos/entitlements.plist \
    --sign "$PARLEY_CODESIGN_IDENTITY" "$app"
  codesign --verify --deep --strict --verbose=2 "$app"
fi

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
rm -f "$dmg"
hdiutil create -volname Parley -srcfolder "$staging" -ov -format UDZO "$dmg"

if [ -n "${PARLEY_CODESIGN_IDENTITY:-}" ]; then
  codesign --force --timestamp --sign "$PARLEY_CODESIGN_IDENTITY" "$dmg"
fi
if [ -n "${PARLEY_NOTARY_PROFILE:-}" ]; then
  xcrun notarytool submit "$dmg" --keychain-profile "$PARLEY_NOTARY_PROFILE" --wait
  xcrun stapler staple "$dmg"
  xcrun stapler validate "$dmg"
fi
echo "$dmg"
