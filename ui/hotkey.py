"""Global push-to-talk hotkey (pynput), hold-to-talk or toggle.

pynput was chosen because it is the one maintained library that listens to
global key presses on X11, Windows and macOS from Python with no compiled
part. Its callbacks run on pynput's own thread: they only call `deliver`,
which the app points at `Bridge.run_on_gui`, so the pipeline is driven from
the GUI thread like every other command.

Where a global hotkey cannot work (Wayland, a missing X display, macOS
without Accessibility / Input Monitoring permission), `start()` returns the
reason and the app shows `fallback_help()` once.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class HotkeyHandler:
    """What a press and a release of the hotkey do; no pynput here, so it is
    tested directly. `target` has start_listening / stop_listening / toggle."""

    def __init__(self, target: Any, mode: str = "hold") -> None:
        self.target = target
        self.mode = mode
        self.held = False

    def press(self) -> None:
        if self.held:
            return  # key repeat while held
        self.held = True
        if self.mode == "hold":
            self.target.start_listening()
        else:
            self.target.toggle()

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self.mode == "hold":
            self.target.stop_listening()


def wayland_session() -> bool:
    return bool(os.environ.get("WAYLAND_DISPLAY")) or (
        os.environ.get("XDG_SESSION_TYPE", "").lower() == "wayland"
    )


def unavailable_reason() -> str | None:
    """Why a global hotkey cannot work here, or None when it may."""
    if sys.platform.startswith("linux"):
        if wayland_session():
            return "Wayland does not let apps listen to keys globally."
        if not os.environ.get("DISPLAY"):
            return "there is no X display to listen to keys on."
    return None


def fallback_help(hotkey: str = "<ctrl>+<alt>+<space>") -> str:
    """How to get push-to-talk without a global hotkey."""
    shown = to_display(hotkey)
    lines = [
        "Bind the command  parley toggle  to a key in your desktop's own shortcut settings:",
    ]
    if sys.platform == "darwin":
        lines.append(
            "  or allow Parley in System Settings > Privacy & Security > Accessibility "
            "and Input Monitoring, then restart Parley."
        )
    else:
        lines += [
            "  GNOME: Settings > Keyboard > Keyboard Shortcuts > Custom Shortcuts > +",
            "  KDE: System Settings > Shortcuts > Custom Shortcuts > New > Global Shortcut",
        ]
    lines.append(f"For example {shown} runs `parley toggle`: press once to talk, again to stop.")
    lines.append("Inside the Parley window, Ctrl+Space always works.")
    return "\n".join(lines)


def to_display(hotkey: str) -> str:
    """'<ctrl>+<alt>+<space>' -> 'Ctrl+Alt+Space'."""
    parts = [p.strip("<>") for p in hotkey.split("+") if p]
    return "+".join(p.capitalize() if len(p) > 1 else p.upper() for p in parts)


_NAMED = (
    "alt alt_l alt_r alt_gr backspace caps_lock cmd cmd_l cmd_r ctrl ctrl_l ctrl_r delete "
    "down end enter esc home insert left menu num_lock page_down page_up pause print_screen "
    "right scroll_lock shift shift_l shift_r space tab up media_play_pause media_volume_mute "
    "media_volume_down media_volume_up media_previous media_next"
)
KEY_NAMES = frozenset(_NAMED.split()) | {f"f{i}" for i in range(1, 21)}
"""pynput's `Key` names (the ones every backend has)."""


def check(hotkey: str) -> str | None:
    """Why `hotkey` is not a shortcut in pynput's syntax, or None. Pure Python:
    importing pynput needs a display, and the settings are checked without one."""
    example = "write it like <ctrl>+<alt>+<space> or <ctrl>+k"
    text = hotkey.strip()
    if not text:
        return f"the shortcut is empty; {example}"
    parts = text.split("+")
    seen = set()
    for part in parts:
        if not part:
            return f"{hotkey!r} has an empty key between two +; {example}"
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1].lower()
            if name not in KEY_NAMES and not name.isdigit():
                return f"{part} is not a key name pynput knows; {example}"
        elif len(part) != 1:
            return f"{part!r} must be one character or a <key name>; {example}"
        if part.lower() in seen:
            return f"{part} appears twice in {hotkey!r}"
        seen.add(part.lower())
    return None


class GlobalHotkey:
    """Listens for `hotkey` system-wide; press/release go through `deliver`."""

    def __init__(
        self,
        hotkey: str,
        handler: HotkeyHandler,
        deliver: Callable[[Callable[[], None]], None],
    ) -> None:
        self.hotkey = hotkey
        self.handler = handler
        self.deliver = deliver
        self._listener: Any = None

    def start(self) -> str | None:
        """Start listening; returns why it cannot, or None on success."""
        reason = unavailable_reason()
        if reason:
            return reason
        problem = check(self.hotkey)
        if problem:
            return problem
        try:
            from pynput import keyboard

            keys = set(keyboard.HotKey.parse(self.hotkey))
            pressed: set[Any] = set()
            listener: Any = None

            def canon(key: Any) -> Any:
                return listener.canonical(key) if listener is not None else key

            def on_press(key: Any) -> None:
                pressed.add(canon(key))
                if keys <= pressed:
                    self.deliver(self.handler.press)

            def on_release(key: Any) -> None:
                k = canon(key)
                if k in keys and self.handler.held:
                    self.deliver(self.handler.release)
                pressed.discard(k)

            listener = keyboard.Listener(on_press=on_press, on_release=on_release)
            listener.start()
            listener.wait()  # raises here, not later on its thread, if it cannot run
            if sys.platform == "darwin" and not getattr(listener, "IS_TRUSTED", True):
                listener.stop()
                return "macOS has not given Parley Accessibility / Input Monitoring permission."
            self._listener = listener
        except Exception as e:  # pynput raises backend-specific errors (ImportError too)
            log.warning("global hotkey unavailable: %s", e)
            return f"the global hotkey could not start ({e})."
        return None

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
