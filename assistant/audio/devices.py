"""Audio devices as PortAudio (through sounddevice) sees them: list, match, re-scan.

PortAudio builds its device list once, when it initialises (at `import
sounddevice`). A microphone plugged in later, or a sound server that started
later, only shows up after `refresh()`, which terminates and re-initialises
PortAudio. That invalidates every open stream, so streams opened by this package
are registered here (`register_stream`) and closed cleanly first; their owners
notice the closed stream and reopen.

Device settings (`input_device`, `output_device`) are strings: "" for the
system default, a number for a PortAudio index, or a name matched
case-insensitively (exact name first, then a substring). On Linux the default is
the ``pipewire`` / ``pulse`` ALSA device when there is one: raw ``hw:`` devices
are exclusive, fixed-rate and bypass the user's mixer.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["input", "output"]

# Sound-server devices preferred over raw hardware on Linux, best first.
LINUX_PREFERRED = ("pipewire", "pulse")

PORTAUDIO_LOCK = threading.RLock()
"""Held while streams open and while PortAudio re-initialises."""

_streams: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    """PortAudio device index (valid until the next `refresh()`)."""
    name: str
    hostapi: str
    """Host API name: ALSA, OSS, Core Audio, MME, Windows WASAPI, ..."""
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    """Hz."""
    is_default_input: bool = False
    is_default_output: bool = False

    def has(self, kind: Kind) -> bool:
        return (self.max_input_channels if kind == "input" else self.max_output_channels) > 0


def _sd() -> Any:
    """The sounddevice module, or None when the PortAudio library is missing."""
    try:
        import sounddevice
    except OSError as e:  # Linux wheels do not bundle PortAudio: libportaudio2
        log.warning("PortAudio unavailable: %s", e)
        return None
    return sounddevice


def portaudio_missing() -> str:
    """Why PortAudio cannot be used ("" when it can)."""
    try:
        import sounddevice  # noqa: F401
    except OSError as e:
        return f"PortAudio library missing ({e}); Debian/Ubuntu: sudo apt install libportaudio2"
    return ""


def list_devices() -> list[DeviceInfo]:
    """Every device PortAudio listed at its last (re)initialisation."""
    sd = _sd()
    if sd is None:
        return []
    with PORTAUDIO_LOCK:
        hostapis = [h["name"] for h in sd.query_hostapis()]
        default_in, default_out = sd.default.device
        out = []
        for d in sd.query_devices():
            out.append(
                DeviceInfo(
                    index=int(d["index"]),
                    name=str(d["name"]),
                    hostapi=hostapis[d["hostapi"]] if d["hostapi"] < len(hostapis) else "?",
                    max_input_channels=int(d["max_input_channels"]),
                    max_output_channels=int(d["max_output_channels"]),
                    default_samplerate=float(d["default_samplerate"]),
                    is_default_input=d["index"] == default_in,
                    is_default_output=d["index"] == default_out,
                )
            )
        return out


def register_stream(stream: Any) -> None:
    """Have `refresh()` close this sounddevice stream before PortAudio re-initialises
    (an open stream would otherwise point into freed memory)."""
    _streams.add(stream)


def refresh() -> None:
    """Re-scan devices: close registered streams, then terminate and re-initialise
    PortAudio. Also picks up changed PULSE_SERVER / PULSE_SOURCE variables."""
    sd = _sd()
    if sd is None:
        return
    with PORTAUDIO_LOCK:
        for stream in list(_streams):
            if not stream.closed:
                stream.abort(ignore_errors=True)
                stream.close(ignore_errors=True)
        _streams.clear()
        sd._terminate()
        sd._initialize()


def match_device(
    devices: list[DeviceInfo], spec: str, kind: Kind, *, platform: str | None = None
) -> int | None:
    """The index of the device `spec` names, or None. Pure logic.

    "" picks the default: on Linux the pipewire / pulse device, else PortAudio's
    default, else the first device of that kind. A number is an index; other
    text matches a name, exactly (ignoring case) first, then as a substring.
    """
    candidates = [d for d in devices if d.has(kind)]
    if not candidates:
        return None
    spec = spec.strip()
    if not spec:
        if (platform or sys.platform).startswith("linux"):
            for name in LINUX_PREFERRED:
                for d in candidates:
                    if d.name.lower() == name:
                        return d.index
        for d in candidates:
            if d.is_default_input if kind == "input" else d.is_default_output:
                return d.index
        return candidates[0].index
    if spec.isdigit():
        index = int(spec)
        return index if any(d.index == index for d in candidates) else None
    wanted = spec.lower()
    for d in candidates:
        if d.name.lower() == wanted:
            return d.index
    for d in candidates:
        if wanted in d.name.lower():
            return d.index
    return None


def find_input(spec: str = "") -> int | None:
    """PortAudio index of the input device `spec` names ("" = default), or None."""
    return match_device(list_devices(), spec, "input")


def find_output(spec: str = "") -> int | None:
    """PortAudio index of the output device `spec` names ("" = default), or None."""
    return match_device(list_devices(), spec, "output")


def device_name(index: int) -> str:
    for d in list_devices():
        if d.index == index:
            return d.name
    return f"#{index}"


def format_devices(devices: list[DeviceInfo] | None = None) -> str:
    """Inputs and outputs for `parley devices`; `*` marks the one Parley uses by default."""
    if devices is None:
        devices = list_devices()
    lines: list[str] = []
    for kind, title in (("input", "Microphones (input)"), ("output", "Speakers (output)")):
        lines.append(f"{title}:")
        chosen = match_device(devices, "", kind)  # type: ignore[arg-type]
        shown = [d for d in devices if d.has(kind)]  # type: ignore[arg-type]
        if not shown:
            lines.append("    (none found)")
        for d in shown:
            channels = d.max_input_channels if kind == "input" else d.max_output_channels
            mark = "*" if d.index == chosen else " "
            lines.append(
                f"  {mark} {d.index:>3}  {d.name}  ({d.hostapi}, {channels} ch, "
                f"{d.default_samplerate:g} Hz)"
            )
    lines.append("* = used when the setting is empty. Set input_device / output_device to a "
                 "number or part of a name.")  # fmt: skip
    problem = portaudio_missing()
    if problem:
        lines.append(problem)
    return "\n".join(lines)
