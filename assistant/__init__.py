"""Parley: an offline desktop voice assistant (the Qt-free core)."""
