"""Proving that a user's file or folder is a model Parley can use: by loading it
with the engine that will run it, not by looking at its name.

- A GGUF file is loaded by llama.cpp (`LlmEngine.load`, a small context): a
  truncated or foreign file fails here with llama.cpp's own reason.
- A Vosk folder is loaded by `vosk.Model` (through `VoskEngine`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from assistant.models.errors import InvalidModel

log = logging.getLogger(__name__)

VALIDATE_CTX = 256
"""Context for the test load: enough to prove the file loads, little memory."""


@dataclass(frozen=True)
class Validated:
    kind: str
    """"llm" or "stt"."""
    chat_template: str = ""
    """The chat format llama.cpp's metadata chose (LLMs)."""
    language: str = ""
    """The language a Vosk folder's name says (may be "")."""


def validate_gguf(path: Path) -> Validated:
    from assistant.llm.engine import LlmEngine, LlmError, LlmOptions

    try:
        engine = LlmEngine.load(path, LlmOptions(n_ctx=VALIDATE_CTX))
    except LlmError as e:
        raise InvalidModel(f"{path} cannot be used as a language model: {e.message}") from e
    fmt = engine.format.name
    del engine  # frees the weights now, not at the next collection
    return Validated("llm", chat_template=fmt)


def validate_vosk(path: Path) -> Validated:
    from assistant.speech.stt import SttError, VoskEngine, model_language

    try:
        VoskEngine(path)
    except SttError as e:
        raise InvalidModel(
            f"{path} is not a Vosk speech model Vosk can load: {e}"
        ) from e
    return Validated("stt", language=model_language(path))


def validate(path: Path) -> Validated:
    """Load `path` with its engine; InvalidModel with a message that says why not."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InvalidModel(f"There is no file or folder at {path}.")
    if path.is_dir():
        return validate_vosk(path)
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as e:
        raise InvalidModel(f"Cannot read {path}: {e.strerror or e}.") from e
    if head[:4] == b"GGUF":
        return validate_gguf(path)
    if head[:2] == b"PK":
        raise InvalidModel(
            f"{path.name} is a zip archive: unpack it first and import the model folder."
        )
    from assistant.audio.wavfile import describe_start

    what = "it is empty" if not head else f"it starts with {describe_start(head)}"
    raise InvalidModel(
        f"{path.name} is neither a GGUF language model (.gguf) nor a Vosk model folder "
        f"({what})."
    )
