"""Replaces pyinstaller-hooks-contrib's webrtcvad hook, which copies the
metadata of a `webrtcvad` distribution and fails the build when there is none:
Parley's `webrtcvad` module comes from the `webrtcvad-wheels` distribution,
whose version webrtcvad.py reads at import."""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
