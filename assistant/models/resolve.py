"""From a setting to a model on disk: `llm_model` holds either a path or the
id of an installed (or built-in) model.

An id is tried first (an installed model's id never looks like a file beside
the user's working folder), then the value as a path. A catalog id that is not
installed gets a message naming the command that installs it. `stt_model` is
read the same way by the speech code (`speech.stt.stt_model_choice`).
"""

from __future__ import annotations

from pathlib import Path

from assistant.inventory import store
from assistant.inventory.catalog import EMBEDDED_ID, load_catalog


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


def _in_catalog(model_id: str) -> bool:
    return model_id in load_catalog().entries
