"""Assembles the core for one run: settings, history, notes, the LLM provider
and the dialogue manager. The CLI, the voice loop and the UI all start here.

Nothing starts in `open()` except opening the history database: the caller
decides when the model starts loading (`start_llm()`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from assistant import paths
from assistant.config import LoadedSettings, Settings, load_settings
from assistant.dialogue.history import DamagedDatabase, History, HistoryError
from assistant.dialogue.manager import DialogueManager, system_messages
from assistant.dialogue.notes import NoteStore
from assistant.events import Error, ErrorCode, EventSink, Notice, NoticeCode
from assistant.llm.embedded import ensure_embedded_model
from assistant.llm.engine import LlmOptions
from assistant.llm.provider import LlmProvider

log = logging.getLogger(__name__)


@dataclass
class Session:
    settings: Settings
    loaded: LoadedSettings
    history: History | None
    notes: NoteStore | None
    llm: LlmProvider | None
    manager: DialogueManager

    @classmethod
    def open(
        cls,
        sink: EventSink,
        *,
        model: str | None = None,
        use_llm: bool = True,
        new_conversation: bool = False,
    ) -> Session:
        loaded = load_settings()
        for problem in loaded.problems:
            sink(Notice(str(problem), NoticeCode.CONFIG_PROBLEM))
        settings = loaded.settings
        if model:
            settings = replace(settings, llm_model=model)
        if not use_llm:
            settings = replace(settings, use_llm=False)

        history: History | None = None
        notes: NoteStore | None = None
        try:
            paths.ensure_dir(paths.data_dir())  # its error names the folder and the fix
            history = History(paths.history_db())
            if history.damage:  # set aside and replaced: say so, and go on
                sink(Error(ErrorCode.HISTORY_DAMAGED, history.damage))
            try:
                recovered = history.recover_interrupted()
            except DamagedDatabase as e:  # quick_check missed it; now kept in memory
                sink(Error(ErrorCode.HISTORY_DAMAGED, str(e)))
                recovered = 0
            if recovered:
                log.info("marked %d reply(s) cut off by a crash as interrupted", recovered)
            notes = NoteStore(history)
            notes.on_damage = lambda message: sink(Error(ErrorCode.HISTORY_DAMAGED, message))
        except (HistoryError, OSError) as e:
            sink(Error(ErrorCode.HISTORY_UNWRITABLE, f"{e} The conversation will not be saved."))
            history = None

        llm = make_provider(settings) if settings.use_llm else None
        manager = DialogueManager(settings, sink=sink, history=history, llm=llm, notes=notes)
        if manager.timers is not None:  # before open_conversation starts them
            store = manager.timers.store
            store.on_damage = lambda message: sink(Error(ErrorCode.TIMERS_DAMAGED, message))
            if store.damage:
                sink(Error(ErrorCode.TIMERS_DAMAGED, store.damage))
        try:
            manager.open_conversation(new=new_conversation)
        except DamagedDatabase as e:  # met reading the last conversation; now in memory
            sink(Error(ErrorCode.HISTORY_DAMAGED, str(e)))
            manager.open_conversation(new=new_conversation)
        return cls(settings, loaded, history, notes, llm, manager)

    def start_llm(self) -> None:
        if self.llm is not None:
            self.llm.start()

    def close(self) -> None:
        if self.llm is not None:  # a load still running stops at its next step
            self.llm.close()
        self.manager.close()
        if self.history is not None:
            self.history.close()
        if self.notes is not None:
            self.notes.close()


def resolve_model(settings: Settings) -> Path:
    """The GGUF to load: the setting (or --model), a path or an installed model's
    id, else the embedded default."""
    if settings.llm_model:
        from assistant.models.resolve import llm_model_path

        return llm_model_path(settings.llm_model)
    return ensure_embedded_model()


def model_problem(setting: str) -> str | None:
    """Why `--model setting` cannot be used, naming the path; None when it can.
    Checked before anything starts: a wrong path given on the command line is
    the user's mistake to hear about at once, not at the first question."""
    from assistant.llm.engine import LlmError
    from assistant.models.resolve import llm_model_path

    try:
        path = llm_model_path(setting)
    except LlmError as e:
        return e.message
    if not path.exists():
        return f"There is no model file at {path.resolve()} (from --model {setting})."
    if path.is_dir():
        return f"{path.resolve()} is a folder, not a GGUF model file (from --model {setting})."
    return None


def catalog_template(model_id: str) -> str:
    """The chat template the model catalog names for `model_id` ("" when the
    setting is a path, or the catalog names none): used when the GGUF has none."""
    if not model_id:
        return ""
    from assistant.inventory.catalog import load_catalog

    entry = load_catalog().entries.get(model_id)
    return entry.chat_template if entry is not None and entry.kind == "llm" else ""


def make_provider(settings: Settings) -> LlmProvider:
    options = LlmOptions(
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        n_gpu_layers=settings.n_gpu_layers,
        chat_template=settings.chat_template,
        fallback_template=catalog_template(settings.llm_model),
    )
    return LlmProvider(
        lambda: resolve_model(settings), options, lambda e: system_messages(settings, e)
    )
