"""The chat transcript: the user's and Parley's bubbles (a tool's outcome is
Parley's reply, marked with the tool's icon; notices live above, in ui/notices.py).

A bubble is a QLabel in Markdown mode inside a frame: links open in the
browser, code shows in a monospace block, the text is selectable and copyable
by mouse and keyboard (and a "Copy" context-menu action copies the whole
bubble). The reply streams into its bubble as deltas arrive. Each reply has a
latency line under it (ms per stage), shown or hidden with `show_latency`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.words import tool_tag

STAGE_LABELS = {
    "endpoint": "endpoint",
    "stt_final": "speech final",
    "intent": "intent",
    "first_token": "first token",
    "first_clause": "first clause",
    "tts_ready": "voice ready",
    "first_sample": "first sound",
    "done": "done",
}

FLAG_TEXT = {
    "empty": "nothing heard",
    "unintelligible": "not understood",
    "low_confidence": "unsure what was heard",
    "negative_sentiment": "upset?",
    "unhandled": "could not handle",
}


def format_latency(stages_ms: dict[str, float], stall_ms: float | None = None) -> str:
    """One line: each stage in ms, in the order a turn goes through them."""
    parts = [f"{name} {stages_ms[k]:.0f} ms" for k, name in STAGE_LABELS.items() if k in stages_ms]
    if stall_ms is not None:
        parts.append(f"UI stall max {stall_ms:.0f} ms")
    return " · ".join(parts) if parts else "no timings"


@dataclass
class _Reply:
    bubble: Bubble
    text: str = ""


class Bubble(QFrame):
    """One message. `role` is user or assistant (Parley)."""

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName(f"bubble_{role}")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        self.tag = QLabel(self)
        self.tag.setObjectName("tag")
        self.tag.hide()
        self.body = QLabel(self)
        self.body.setObjectName("body")
        self.body.setWordWrap(True)
        self.body.setTextFormat(
            Qt.TextFormat.PlainText if role == "user" else Qt.TextFormat.MarkdownText
        )
        self.body.setOpenExternalLinks(True)
        self.body.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextBrowserInteraction
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.body.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # keyboard users can select too
        self.body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.latency = QLabel(self)
        self.latency.setObjectName("latency")
        self.latency.hide()
        layout.addWidget(self.tag)
        layout.addWidget(self.body)
        layout.addWidget(self.latency)
        copy = QAction("Copy message", self)
        copy.triggered.connect(self.copy)
        self.addAction(copy)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.set_text(text)

    def set_text(self, text: str) -> None:
        self._text = text
        self.body.setText(text if text else "…")
        who = "You" if self.role == "user" else "Parley"
        self.body.setAccessibleName(f"{who}: {text}")

    def text(self) -> str:
        return self._text

    def set_tag(self, text: str) -> None:
        self.tag.setText(text)
        self.tag.setVisible(bool(text))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self._text)


def _drop_row(row: QLayout) -> None:
    """Delete a row's bubbles, hidden at once: deleteLater waits for the event
    loop, and until then the old bubble was still painted over the new ones."""
    while row.count():
        w = row.takeAt(0).widget()
        if w is not None:
            w.hide()
            w.deleteLater()


class Transcript(QScrollArea):
    """Scrollable column of bubbles; sticks to the bottom while new text arrives."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setAccessibleName("Conversation")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._inner = QWidget()
        self._inner.setObjectName("transcript_inner")
        self._column = QVBoxLayout(self._inner)
        self._column.setContentsMargins(12, 12, 12, 12)
        self._column.setSpacing(10)
        self._column.addStretch(1)  # on top: messages stack up from the bottom, as in a chat
        self.setWidget(self._inner)
        self._replies: dict[int, _Reply] = {}
        self._users: dict[int, Bubble] = {}
        self._open: _Reply | None = None  # the reply streaming now
        self._latency_visible = False
        self.show_flags = False
        """Mark hard cases on the user's words (the developer setting)."""
        self.bubbles: list[Bubble] = []
        self.verticalScrollBar().rangeChanged.connect(self._stick_to_bottom)
        self._at_bottom = True
        self.verticalScrollBar().valueChanged.connect(self._track_bottom)

    # -- adding --------------------------------------------------------------------------------

    def _add(self, bubble: Bubble, align: Qt.AlignmentFlag) -> Bubble:
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if align == Qt.AlignmentFlag.AlignRight:
            row.addStretch(1)
        row.addWidget(bubble, 4)
        if align == Qt.AlignmentFlag.AlignLeft:
            row.addStretch(1)
        if align == Qt.AlignmentFlag.AlignHCenter:
            row.insertStretch(0, 1)
            row.addStretch(1)
        self._column.addLayout(row)
        self.bubbles.append(bubble)
        return bubble

    def add_user(self, text: str, turn_id: int = 0) -> Bubble:
        self._open = None
        b = self._add(Bubble("user", text), Qt.AlignmentFlag.AlignRight)
        if turn_id:
            self._users[turn_id] = b
        return b

    def append_delta(self, text: str, turn_id: int = 0) -> Bubble:
        reply = self._replies.get(turn_id) if turn_id else self._open
        if reply is None:
            reply = _Reply(self._add(Bubble("assistant"), Qt.AlignmentFlag.AlignLeft))
            if turn_id:
                self._replies[turn_id] = reply
            self._open = reply
        reply.text += text
        reply.bubble.set_text(reply.text)
        return reply.bubble

    def finish_reply(self, text: str, turn_id: int = 0, interrupted: bool = False) -> Bubble:
        reply = self._replies.get(turn_id) if turn_id else self._open
        if reply is None:
            bubble = self.append_delta(text, turn_id)
            reply = self._replies.get(turn_id) or self._open
            assert reply is not None
        reply.text = text
        reply.bubble.set_text(text)
        if interrupted:
            reply.bubble.setProperty("interrupted", True)
            reply.bubble.set_tag("■ interrupted")
            restyle(reply.bubble)
        self._open = None
        bubble = reply.bubble
        return bubble

    def remove_turn(self, user_turn_id: int, reply_turn_id: int = 0) -> None:
        """Take a turn and its reply off the screen: Parley ended it too early
        and the user went on (the whole request follows as a new turn)."""
        gone = [self._users.pop(user_turn_id, None)]
        reply = self._replies.pop(reply_turn_id, None) if reply_turn_id else None
        if reply is not None:
            gone.append(reply.bubble)
            if self._open is reply:
                self._open = None
        for bubble in gone:
            if bubble is None:
                continue
            self.bubbles.remove(bubble)
            for i in range(1, self._column.count()):  # index 0 is the stretch
                row = self._column.itemAt(i).layout()
                if row is not None and row.indexOf(bubble) >= 0:
                    self._column.takeAt(i)
                    _drop_row(row)
                    break

    def add_parley(self, text: str) -> Bubble:
        """Parley's words outside a reply (a timer going off): a bubble that stays."""
        self._open = None
        return self._add(Bubble("assistant", text), Qt.AlignmentFlag.AlignLeft)

    def mark_flagged(self, turn_id: int, reason: str) -> None:
        b = self._users.get(turn_id)
        if b is None:
            return
        b.setProperty("flagged", True)
        b.set_tag(f"⚑ {FLAG_TEXT.get(reason, reason)}")
        restyle(b)

    def set_latency(
        self, turn_id: int, stages_ms: dict[str, float], stall_ms: float | None = None
    ) -> None:
        reply = self._replies.get(turn_id)
        if reply is None:
            return
        reply.bubble.latency.setText(format_latency(stages_ms, stall_ms))
        reply.bubble.latency.setVisible(self._latency_visible)

    def show_latency(self, on: bool) -> None:
        self._latency_visible = on
        for reply in self._replies.values():
            reply.bubble.latency.setVisible(on and bool(reply.bubble.latency.text()))

    def clear(self) -> None:
        while self._column.count() > 1:
            item = self._column.takeAt(1)  # index 0 is the stretch
            row = item.layout()
            if row is not None:
                _drop_row(row)
        self._replies.clear()
        self._users.clear()
        self.bubbles.clear()
        self._open = None

    def load(self, turns: list) -> None:
        """Show a stored conversation (history.Turn rows) as a conversation."""
        self.clear()
        tool = ""
        for t in turns:
            if t.role == "user":
                tool = ""
                self.add_user(t.text, t.id)
                if t.flagged and self.show_flags:
                    self.mark_flagged(t.id, t.flagged)
            elif t.role == "assistant":
                b = self.finish_reply(t.text, t.id, interrupted=t.status == "interrupted")
                if t.timings:
                    self.set_latency(t.id, t.timings)
                if tool:
                    b.set_tag(tool_tag(tool))
                elif t.source == "tool":
                    b.set_tag(tool_tag(t.intent, fallback=False))
                tool = ""
            elif t.role == "tool":
                # Audit rows (request, decision, result): the reply that follows
                # tells the outcome; the row only names the tool for its icon.
                # A timer going off has no reply: its words are shown as Parley's.
                if t.intent == "timer":
                    self.add_parley(t.text).set_tag(tool_tag("timer"))
                else:
                    tool = str((getattr(t, "data", None) or {}).get("tool", ""))

    # -- scrolling ------------------------------------------------------------------------------

    def _track_bottom(self, value: int) -> None:
        self._at_bottom = value >= self.verticalScrollBar().maximum() - 4

    def _stick_to_bottom(self, _min: int, maximum: int) -> None:
        if self._at_bottom:
            # With self as the context: not called once the transcript is gone.
            QTimer.singleShot(0, self, lambda: self.verticalScrollBar().setValue(maximum))

    def palette_changed(self) -> None:
        for b in self.bubbles:
            restyle(b)


def restyle(w: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    style = w.style()
    style.unpolish(w)
    style.polish(w)


def bubble_style(palette: QPalette) -> str:
    """Style sheet for the bubbles, from the current palette (light or dark)."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    hl = palette.color(QPalette.ColorRole.Highlight)
    mid = palette.color(QPalette.ColorRole.Mid)
    dark_mode = base.lightness() < 128
    user_bg = hl.darker(130) if dark_mode else hl.lighter(175)
    user_bg.setAlpha(255)
    asst_bg = base.lighter(135) if dark_mode else base.darker(106)
    muted = mid.name() if not dark_mode else "#9aa0a6"
    tag = "#5f4b00" if not dark_mode else "#f0c75e"  # readable on every bubble colour
    return f"""
    #transcript_inner {{ background: {base.name()}; }}
    QFrame#bubble_user {{ background: {user_bg.name()}; border-radius: 12px; }}
    QFrame#bubble_assistant {{ background: {asst_bg.name()}; border-radius: 12px; }}
    QFrame[interrupted="true"] {{ border: 1px dashed {muted}; }}
    QFrame[flagged="true"] {{ border-left: 4px solid #e8a317; }}
    QFrame[timer="true"] {{ border: 2px solid #c9a227; }}
    QLabel#body {{ color: {text.name()}; background: transparent; }}
    QLabel#tag {{ color: {tag}; font-size: 9pt; font-weight: 600; background: transparent; }}
    QLabel#latency {{ color: {muted}; font-size: 8pt; background: transparent; }}
    """
