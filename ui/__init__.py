"""The Qt desktop app (PySide6). Imports `assistant`; the core never imports this."""
