"""The main window: conversations, transcript, state, push-to-talk, text box.

Everything here runs on the GUI thread. Core events arrive as Bridge signals;
commands go to the controller, whose methods only queue work for the core.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from assistant.events import (
    Error,
    ErrorCode,
    Flagged,
    Latency,
    Notice,
    NoticeCode,
    Partial,
    ReplyDelta,
    ReplyDone,
    Source,
    State,
    StateChanged,
    ToolRequest,
    ToolResult,
    TurnRetracted,
    UserTurn,
)
from ui import theme
from ui.bridge import Bridge
from ui.confirm import ConfirmPanel
from ui.listen_state import ListenState
from ui.notices import NoticeBar, model_cause
from ui.stall import StallMonitor
from ui.timers_panel import TimersPanel
from ui.transcript import Transcript, bubble_style, restyle
from ui.words import tool_tag

log = logging.getLogger(__name__)

HOLD_S = 0.35
"""A push-to-talk press longer than this is hold-to-talk; shorter is a click
that toggles listening on until the next click."""

STATE_TEXT = {
    State.IDLE: ("Idle", "#8c959f"),
    State.LISTENING: ("Listening", "#dc2626"),
    State.THINKING: ("Thinking", "#d97706"),
    State.SPEAKING: ("Speaking", "#16a34a"),
}


class PushToTalk(QPushButton):
    """Hold to talk, or click to start and click again to stop.

    Whether a click stops follows the state the indicators show (`follow`):
    listening started elsewhere (`parley toggle`, the tray, the hotkey) is
    stopped by one click, like listening this button started."""

    TIP = "Hold to talk, or click to start and click again to stop (or hold/tap Ctrl+Space)"

    def __init__(self, target: Any, parent: QWidget | None = None) -> None:
        super().__init__("Talk", parent)
        self.target = target
        self.clock: Callable[[], float] = time.monotonic
        self.latched = False
        """A click started listening and the core has not stopped yet (it may
        not have said "listening" yet either: its state comes a moment later)."""
        self.live = False
        """The shown state is Listening, whoever started it."""
        self._down_at = 0.0
        self._was_on = False
        self.setAccessibleName("Push to talk")
        self.setToolTip(self.TIP)
        self.setCheckable(False)
        self.pressed.connect(self._pressed)
        self.released.connect(self._released)

    def follow(self, listen: Any) -> None:
        """Track `listen` (a ListenState): the one listening state."""
        listen.changed.connect(self.show_state)
        self.show_state(listen.shown)

    def show_state(self, state: State) -> None:
        # Listening ended (an utterance closed, a toggle, a typed turn): a
        # latched click is used up.
        if state is not State.LISTENING and (self.live or state is State.THINKING):
            self.latched = False
        self.live = state is State.LISTENING

    def _pressed(self) -> None:
        self._down_at = self.clock()
        self._was_on = self.latched or self.live
        if not self._was_on:
            self.target.start_listening()
        # Already listening: the release decides. A hold talks on and ends the
        # utterance at release; a click stops.

    def _released(self) -> None:
        held = self.clock() - self._down_at >= HOLD_S
        if held or self._was_on:
            self.latched = False
            self.target.stop_listening()
        else:
            self.latched = True


class TalkKey(QObject):
    """Ctrl+Space anywhere in the window works like the Talk button: hold it
    to talk, or tap it to start and tap again to stop."""

    def __init__(self, window: QWidget, ptt: PushToTalk) -> None:
        super().__init__(window)
        self.window = window
        self.ptt = ptt
        self.down = False

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        t = event.type()
        if t not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride):
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self.window:
            return False
        key = event.key()  # type: ignore[attr-defined]
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)  # type: ignore[attr-defined]
        if key != Qt.Key.Key_Space or not (ctrl or (self.down and t == QEvent.Type.KeyRelease)):
            return False
        if t == QEvent.Type.ShortcutOverride:
            event.accept()  # ours, not a shortcut's
            return True
        if event.isAutoRepeat():  # type: ignore[attr-defined]
            return True
        if t == QEvent.Type.KeyPress and not self.down and self.ptt.isEnabled():
            self.down = True
            self.ptt._pressed()
        elif t == QEvent.Type.KeyRelease and self.down:
            self.down = False
            self.ptt._released()
        return True


class MainWindow(QMainWindow):
    settings_requested = Signal()
    quit_requested = Signal()
    setup_requested = Signal()
    timer_finished = Signal(str)  # the announcement: the shell notifies the desktop

    def __init__(self, controller: Any, bridge: Bridge, settings: Any) -> None:
        super().__init__()
        self.controller = controller
        self.bridge = bridge
        self.settings = settings
        self.tray_available = False  # set by the app when a tray icon exists
        self.state = State.IDLE  # what the indicators show (see ListenState)
        self.listen = ListenState(self)
        self.shown_conversation = 0
        """The conversation in the pane; the list's current item is always this one."""
        self._reply_tool = ""  # the tool whose outcome the next reply tells
        self.stall = StallMonitor(parent=self)
        self.setWindowTitle("Parley")
        self.setWindowIcon(theme.app_icon())
        self.setObjectName("main_window")
        self._build()
        self._connect()
        self.resize(980, 680)
        self.setMinimumSize(520, 400)
        self.stall.start()

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        # Left: conversations.
        self.new_button = QPushButton("New conversation")
        self.new_button.setAccessibleName("New conversation")
        self.conversations = QListWidget()
        self.conversations.setAccessibleName("Conversations")
        self.conversations.setObjectName("conversations")
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(8, 8, 4, 8)
        lv.addWidget(self.new_button)
        heading = QLabel("Conversations")
        heading.setObjectName("heading")
        lv.addWidget(heading)
        lv.addWidget(self.conversations, 1)
        self.timers = TimersPanel(lambda: self.controller)
        lv.addWidget(self.timers)

        # Right: state, transcript, partial, confirmation, input.
        self.state_label = QLabel()
        self.state_label.setObjectName("state")
        self.state_label.setAccessibleName("State")
        self.level = QProgressBar()
        self.level.setRange(0, 100)
        self.level.setTextVisible(False)
        self.level.setFixedWidth(140)
        self.level.setMaximumHeight(10)
        self.level.setAccessibleName("Microphone level")
        self.latency_toggle = QPushButton("Latency")
        self.latency_toggle.setCheckable(True)
        self.latency_toggle.setAccessibleName("Show latency per reply")
        self.latency_toggle.setToolTip("Show the time each stage of a reply took (Ctrl+L)")
        self.settings_button = QPushButton()
        self.settings_button.setAccessibleName("Settings")
        self.settings_button.setToolTip("Settings (Ctrl+,)")
        top = QHBoxLayout()
        top.addWidget(self.state_label)
        top.addSpacing(8)
        self.mic_label = QLabel("Mic")
        self.mic_label.setBuddy(self.level)
        top.addWidget(self.mic_label)
        top.addWidget(self.level)
        top.addStretch(1)
        top.addWidget(self.latency_toggle)
        top.addWidget(self.settings_button)

        self.notices = NoticeBar()
        self.transcript = Transcript()
        self.partial = QLabel()
        self.partial.setObjectName("partial")
        self.partial.setAccessibleName("What Parley is hearing")
        self.partial.setWordWrap(True)
        self.partial.hide()
        self.confirm = ConfirmPanel(self.controller.confirm)

        self.ptt = PushToTalk(self.controller)
        self.text = QLineEdit()
        self.text.setPlaceholderText("Type to Parley instead of talking, then press Enter")
        self.text.setAccessibleName("Message")
        self.text.setClearButtonEnabled(True)
        self.send = QPushButton("Send")
        self.send.setAccessibleName("Send message")
        self.stop = QPushButton("Stop")
        self.stop.setAccessibleName("Stop speaking and generating")
        self.stop.setToolTip("Stop speaking and generating (Esc)")
        bottom = QHBoxLayout()
        bottom.addWidget(self.ptt)
        bottom.addWidget(self.text, 1)
        bottom.addWidget(self.send)
        bottom.addWidget(self.stop)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(4, 8, 8, 8)
        rv.addLayout(top)
        rv.addWidget(self.notices)
        rv.addWidget(self.transcript, 1)
        rv.addWidget(self.partial)
        rv.addWidget(self.confirm)
        rv.addLayout(bottom)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([230, 750])
        split.setChildrenCollapsible(False)
        self.setCentralWidget(split)
        self._apply_icons()
        self._style()
        self.set_state(State.IDLE)
        self.statusBar().showMessage("Starting Parley…")

        # Keyboard order: text box first (most used), then the buttons, then the lists.
        QWidget.setTabOrder(self.text, self.send)
        QWidget.setTabOrder(self.send, self.ptt)
        QWidget.setTabOrder(self.ptt, self.stop)
        QWidget.setTabOrder(self.stop, self.latency_toggle)
        QWidget.setTabOrder(self.latency_toggle, self.settings_button)
        QWidget.setTabOrder(self.settings_button, self.new_button)
        QWidget.setTabOrder(self.new_button, self.conversations)
        self.text.setFocus()

        menu = self.menuBar()
        file = menu.addMenu("&Parley")
        self.new_action = self._action(file, "&New conversation", "Ctrl+N", self.new_conversation)
        self._action(file, "&Settings…", "Ctrl+,", self.settings_requested.emit)
        file.addSeparator()
        self._action(file, "&Quit", "Ctrl+Q", self.quit_requested.emit)
        view = menu.addMenu("&View")
        self.latency_action = self._action(view, "Show &latency", "Ctrl+L", None)
        self.latency_action.setCheckable(True)
        self.hard_cases_action = self._action(view, "&Hard cases…", "Ctrl+H", self.show_hard_cases)
        self.view_menu = view
        talk = menu.addMenu("&Talk")
        # Ctrl+Space is handled by TalkKey (hold to talk, tap to toggle), not as a
        # QAction shortcut, which would see the press but never the release.
        self._action(talk, "Start / stop &listening\tCtrl+Space", None, self.toggle_listening)
        self._action(talk, "&Stop reply", "Esc", self.stop_reply)
        helpm = menu.addMenu("&Help")
        self._action(helpm, "&What can I say?", "F1", self.show_examples)
        self._action(helpm, "Push-to-talk &hotkey…", None, self.show_hotkey_help)
        self._action(helpm, "Run &set-up again…", None, self.setup_requested.emit)
        helpm.addSeparator()
        self._action(helpm, "&About Parley", None, self.show_about)
        self.help_menu = helpm
        self.hotkey_help = ""
        self.apply_developer()

    def _action(
        self, menu: Any, text: str, shortcut: str | None, slot: Callable[[], object] | None
    ) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if slot is not None:
            a.triggered.connect(lambda _=False: slot())
        menu.addAction(a)
        return a

    def _apply_icons(self) -> None:
        self.ptt.setIcon(theme.icon("mic"))
        self.send.setIcon(theme.icon("send"))
        self.stop.setIcon(theme.icon("stop"))
        self.settings_button.setIcon(theme.icon("settings"))
        self.new_button.setIcon(theme.icon("new"))

    def _style(self) -> None:
        pal = self.palette()
        self.transcript.setStyleSheet(bubble_style(pal))
        self.partial.setStyleSheet("font-style: italic; padding: 4px 8px;")
        self.latency_toggle.setStyleSheet(
            "QPushButton:checked { background: palette(highlight);"
            " color: palette(highlighted-text); border-radius: 3px; padding: 3px 10px; }"
        )

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_icons()
            self._style()
            self.transcript.palette_changed()
            self.set_state(self.state)
        super().changeEvent(event)

    # -- wiring ------------------------------------------------------------------------------

    def _connect(self) -> None:
        b = self.bridge
        b.state.connect(self.on_state)
        b.partial.connect(self.on_partial)
        b.user_turn.connect(self.on_user_turn)
        b.reply_delta.connect(self.on_reply_delta)
        b.reply_done.connect(self.on_reply_done)
        b.turn_retracted.connect(self.on_turn_retracted)
        b.tool_request.connect(self.on_tool_request)
        b.tool_result.connect(self.on_tool_result)
        b.latency.connect(self.on_latency)
        b.flagged.connect(self.on_flagged)
        b.error.connect(self.on_error)
        b.notice.connect(self.on_notice)
        self.text.returnPressed.connect(self.submit)
        self.send.clicked.connect(self.submit)
        self.stop.clicked.connect(self.stop_reply)
        self.new_button.clicked.connect(self.new_conversation)
        self.settings_button.clicked.connect(self.settings_requested.emit)
        self.latency_toggle.toggled.connect(self.set_latency_visible)
        self.latency_action.toggled.connect(self.set_latency_visible)
        # The current item (left click, right click, keyboard) is the conversation shown.
        self.conversations.currentItemChanged.connect(self._current_changed)
        self.conversations.itemActivated.connect(self._open_item)
        self.listen.changed.connect(self._show_state)
        self._show_state(self.listen.shown)  # _build set the state before this connection
        self.ptt.follow(self.listen)
        self.talk_key = TalkKey(self, self.ptt)
        QApplication.instance().installEventFilter(self.talk_key)
        self._meter = QTimer(self)
        self._meter.setInterval(50)
        self._meter.timeout.connect(self._update_meter)
        self._meter.start()

    # -- core events (GUI thread) ----------------------------------------------------------

    def on_state(self, e: StateChanged) -> None:
        self.set_state(e.state)

    def set_state(self, state: State) -> None:
        """The core's state; what is shown follows `self.listen`."""
        if state in (State.IDLE, State.THINKING):
            self.partial.hide()
        self.listen.set_core(state)

    def _show_state(self, state: State) -> None:
        self.state = state
        text, color = STATE_TEXT[state]
        self.state_label.setText(f"<span style='color:{color}; font-size:14pt'>●</span> {text}")
        self.state_label.setAccessibleDescription(text)
        self.stop.setEnabled(state in (State.THINKING, State.SPEAKING))
        self.ptt.setProperty("live", state is State.LISTENING)
        self.ptt.setStyleSheet(
            "QPushButton { background: #dc2626; color: white; }" if state is State.LISTENING else ""
        )

    def on_partial(self, e: Partial) -> None:
        self.partial.setText(f"Hearing: {e.text}…")
        self.partial.setVisible(bool(e.text))

    def on_user_turn(self, e: UserTurn) -> None:
        self.stall.mark()
        self.partial.hide()
        self._reply_tool = ""  # a tool's outcome belongs to the reply of its own turn
        if e.conversation_id and e.conversation_id != self.shown_conversation:
            self.shown_conversation = e.conversation_id  # the core opened one (a first turn)
        self.transcript.add_user(e.text, e.turn_id)

    def on_reply_delta(self, e: ReplyDelta) -> None:
        self.transcript.append_delta(e.text, e.turn_id)

    def on_reply_done(self, e: ReplyDone) -> None:
        bubble = self.transcript.finish_reply(e.text, e.turn_id, e.interrupted)
        tool, self._reply_tool = self._reply_tool, ""
        if tool:  # the reply tells a tool's outcome: the tool's icon
            bubble.set_tag(tool_tag(tool))
        elif e.source == Source.TOOL:  # a rule reply by a tool ("timer", "note_add")
            bubble.set_tag(tool_tag(e.intent, fallback=False))
        self.refresh_conversations()

    def on_turn_retracted(self, e: TurnRetracted) -> None:
        self.transcript.remove_turn(e.user_turn_id, e.reply_turn_id)

    def on_tool_request(self, e: ToolRequest) -> None:
        self.confirm.request(e)
        self.raise_for_attention()

    def on_tool_result(self, e: ToolResult) -> None:
        """A tool's outcome is told once, by Parley's reply (which gets the
        tool's icon); only an unanswered question, which no reply follows,
        is said here."""
        self.confirm.resolved(e.request_id)
        if e.data.get("reason") == "timeout":
            bubble = self.transcript.add_parley(e.text)
            bubble.set_tag(tool_tag(e.tool))
        else:
            self._reply_tool = e.tool
        if any(w in e.tool for w in ("timer", "alarm")):
            self.timers.refresh()

    def on_latency(self, e: Latency) -> None:
        stall = self.stall.turn_max_ms
        log.info("turn %d: stages %s; GUI stall max %.1f ms", e.turn_id, e.stages_ms, stall)
        self.transcript.set_latency(e.turn_id, e.stages_ms, stall if self.developer else None)

    def on_flagged(self, e: Flagged) -> None:
        if self.developer:  # hard cases are for the developer, not a mark on the user's words
            self.transcript.mark_flagged(e.turn_id, e.reason)

    @property
    def developer(self) -> bool:
        return bool(getattr(self.settings, "developer", False))

    def apply_developer(self) -> None:
        """Timings and hard cases show only with the developer setting."""
        on = self.developer
        self.latency_toggle.setVisible(on)
        self.latency_action.setVisible(on)
        self.hard_cases_action.setVisible(on)
        self.transcript.show_flags = on
        self.view_menu.menuAction().setVisible(on)
        if not on:
            self.set_latency_visible(False)

    def on_error(self, e: Error) -> None:
        if e.code in (ErrorCode.NO_MICROPHONE, ErrorCode.STT_UNAVAILABLE, ErrorCode.WORKER_FAILED):
            self.set_can_listen(False, e.message)
        message = e.message
        if e.code in (ErrorCode.LLM_FAILED, ErrorCode.MODEL_MISSING):
            message = model_cause(message, str(getattr(self.settings, "llm_model", "")))
        self.notices.show_notice(e.code, message, error=True)

    def set_can_listen(self, ok: bool, why: str = "") -> None:
        """Without a microphone (or a recogniser) the Talk button says why, and
        no level meter suggests that one is there."""
        self.ptt.setEnabled(ok)
        self.ptt.setToolTip(PushToTalk.TIP if ok else f"Parley cannot listen: {why}")
        self.level.setVisible(ok)
        self.mic_label.setVisible(ok)
        self.text.setPlaceholderText(
            "Type to Parley instead of talking, then press Enter"
            if ok
            else "Type to Parley, then press Enter"
        )
        self.listen.set_can_listen(ok, why)

    def on_notice(self, e: Notice) -> None:
        if e.code == NoticeCode.TIMER:
            self.timer_done(e.message)
            return
        if e.code == NoticeCode.CONFIRM_TIMEOUT:  # said by the ToolResult's bubble
            return
        if e.code == NoticeCode.INPUT_BACK:
            self.set_can_listen(True)
        if e.code == NoticeCode.NO_STT:
            self.set_can_listen(False, e.message)
        if e.code in (
            NoticeCode.CONFIG_PROBLEM,
            NoticeCode.NO_WAKE,
            NoticeCode.TTS_VOICE,
            NoticeCode.INPUT_BACK,
            NoticeCode.NO_STT,
            NoticeCode.TIMERS_UNSAVED,
            NoticeCode.CHAT_FORMAT,
            ErrorCode.INPUT_LOST,
        ):
            self.notices.show_notice(e.code, e.message)
        self.statusBar().showMessage(e.message, 10000)

    def timer_done(self, text: str) -> None:
        """A timer or alarm went off: a bubble that stays, the tray's message
        and a chime (the shell's), and the panel loses its row."""
        bubble = self.transcript.add_parley(text)
        bubble.set_tag(tool_tag("alarm" if "alarm" in text.lower() else "timer"))
        bubble.setProperty("timer", True)
        restyle(bubble)
        self.timers.refresh()
        self.timer_finished.emit(text)
        self.raise_for_attention()

    def core_ready(self) -> None:
        if self.listen.can_listen:
            hint = "Ready. Type below, or hold Talk and speak."
        else:
            hint = "Ready. Type below: Parley cannot hear you right now."
        self.statusBar().showMessage(hint, 8000)
        self.refresh_conversations()
        self.timers.refresh()

    # -- commands ------------------------------------------------------------------------------

    def submit(self) -> None:
        text = self.text.text().strip()
        if not text:
            self.statusBar().showMessage("Type a message first, then press Enter.", 5000)
            return
        if not self.controller.submit_text(text):
            self.statusBar().showMessage(
                "Parley is still starting; your message is kept, press Enter again in a moment.",
                8000,
            )
            return
        self.text.clear()

    def toggle_listening(self) -> None:
        answer = self.listen.toggle(self.controller)
        self.statusBar().showMessage(answer[:1].upper() + answer[1:], 5000)

    def stop_reply(self) -> None:
        self.controller.interrupt()

    def new_conversation(self) -> None:
        self.shown_conversation = self.controller.new_conversation()
        self.transcript.clear()
        self.refresh_conversations()
        self.text.setFocus()

    def set_latency_visible(self, on: bool) -> None:
        for w in (self.latency_toggle, self.latency_action):
            if w.isChecked() != on:
                w.setChecked(on)
        self.transcript.show_latency(on)

    def refresh_conversations(self) -> None:
        try:
            convs = self.controller.conversations()
        except Exception as e:  # history problems are reported, never fatal
            self.statusBar().showMessage(f"Cannot read the history: {e}", 8000)
            return
        current = self.shown_conversation or self.controller.conversation_id()
        self.conversations.blockSignals(True)
        self.conversations.clear()
        for c in convs:
            if not c.turn_count and c.id != current:
                continue
            title = c.title or ("New conversation" if not c.turn_count else f"Conversation {c.id}")
            item = QListWidgetItem(title)
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setToolTip(f"Last message {c.updated_at[:16].replace('T', ' ')}")
            self.conversations.addItem(item)
            if c.id == current:
                item.setSelected(True)
                self.conversations.setCurrentItem(item)
        self.conversations.blockSignals(False)

    def _current_changed(self, item: QListWidgetItem | None, _old: object = None) -> None:
        if item is not None:
            self._open_item(item)

    def _open_item(self, item: QListWidgetItem) -> None:
        cid = int(item.data(Qt.ItemDataRole.UserRole))
        if cid == self.shown_conversation:
            return
        self.show_conversation(cid, continue_it=True)

    def show_conversation(self, cid: int, continue_it: bool) -> None:
        if continue_it:
            self.controller.open_conversation(cid)
        self.shown_conversation = cid
        self.transcript.load(self.controller.turns(cid))
        self.refresh_conversations()

    def load_current(self) -> None:
        """Show the conversation the core continues (at start-up, before any new
        turn), whatever notices the pane already holds."""
        cid = self.controller.conversation_id()
        if cid and cid != self.shown_conversation:
            self.show_conversation(cid, continue_it=False)

    def _update_meter(self) -> None:
        db = self.controller.level_dbfs
        self.level.setValue(int(max(0.0, min(100.0, (db + 60.0) * 100.0 / 60.0))))

    def show_hard_cases(self) -> None:
        from ui.hard_cases import HardCases

        history = getattr(self.controller, "history", None)
        try:
            turns = history.flagged() if history is not None else []
        except Exception as e:  # history problems are reported, never fatal
            self.statusBar().showMessage(f"Cannot read the history: {e}", 8000)
            return
        dialog = HardCases(turns, self)
        self.hard_cases = dialog
        if dialog.exec() and dialog.chosen:
            self.text.setText(dialog.chosen)
            self.text.setFocus()

    def show_examples(self) -> None:
        from ui.help_dialogs import TextWindow, examples_html

        model_on = bool(getattr(self.settings, "use_llm", True))
        wake = str(getattr(self.settings, "wake_phrase", "hey parley"))
        html = examples_html(model_on, wake)
        self.examples_window = TextWindow("What can I say?", html, self)
        self.examples_window.open()

    def show_about(self) -> None:
        from ui.help_dialogs import TextWindow, about_html

        self.about_window = TextWindow("About Parley", about_html(self.settings), self)
        self.about_window.open()

    def show_hotkey_help(self) -> None:
        text = self.hotkey_help or "The global hotkey is active."
        QMessageBox.information(self, "Push-to-talk hotkey", text)

    def raise_for_attention(self) -> None:
        if not self.isVisible():
            self.show()
        QApplication.alert(self)

    def bring_to_front(self) -> None:
        self.show()
        if self.isMinimized():
            self.showNormal()
        self.raise_()
        self.activateWindow()

    # -- closing -------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if getattr(self.settings, "close_to_tray", False) and self.tray_available:
            event.ignore()
            self.hide()
            return
        event.accept()
        self.quit_requested.emit()
