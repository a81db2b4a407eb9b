"""Wires the app together: bridge, controller (the core), window, tray,
global hotkey, control socket, settings dialog and first-run onboarding."""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QProcess, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from assistant import paths
from assistant.config import Settings, load_settings
from assistant.control import AlreadyRunning, ControlServer
from assistant.events import State
from ui import theme
from ui.bridge import Bridge
from ui.controller import Controller, CoreOptions
from ui.hotkey import GlobalHotkey, HotkeyHandler, fallback_help
from ui.main_window import MainWindow

log = logging.getLogger(__name__)

ONBOARDED_FLAG = "onboarded"
HOTKEY_NOTICE_FLAG = "hotkey-notice-shown"

# Settings the running core reads only at start-up: changing one restarts it.
CORE_KEYS = {
    "llm_model", "chat_template", "n_ctx", "n_threads", "n_gpu_layers", "max_tokens",
    "temperature", "system_prompt", "use_llm", "min_confidence", "confirm_timeout_s",
    "language", "stt_engine", "stt_model", "input_device", "output_device",
    "wake_word_enabled", "wake_phrase", "follow_up_s", "turn_wait_s", "headphones",
    "tts_voice", "tts_rate", "tts_volume",
}


def flag_path(name: str) -> Any:
    return paths.data_dir() / name


class Shell:
    def __init__(
        self,
        app: QApplication,
        options: CoreOptions | None = None,
        *,
        control: bool = True,
        onboarding: bool = True,
        global_hotkey: bool = True,
    ) -> None:
        self.app = app
        self.options = options or CoreOptions()
        self.use_control = control
        self.use_onboarding = onboarding
        self.use_hotkey = global_hotkey
        loaded = load_settings()
        self.settings: Settings = loaded.settings
        theme.apply_theme(app, self.settings.theme)
        app.setWindowIcon(theme.app_icon())
        self.bridge = Bridge()
        self.controller = Controller(self.bridge, self.options)
        self.controller.on_ready = lambda: self.bridge.run_on_gui(self._core_ready)
        self.window = MainWindow(self.controller, self.bridge, self.settings)
        self.window.settings_requested.connect(self.open_settings)
        self.window.quit_requested.connect(self.quit)
        self.window.setup_requested.connect(self.run_onboarding)
        self.window.timer_finished.connect(self._timer_finished)
        self.tray: Any = None
        self.hotkey: GlobalHotkey | None = None
        self.hotkey_handler = HotkeyHandler(self.controller, self.settings.hotkey_mode)
        self.control: ControlServer | None = None
        self.onboarding: Any = None  # the first-run wizard while it is open
        self._shut = False

    # -- start / stop ------------------------------------------------------------------------

    def start(self) -> bool:
        if self.use_control:
            self.control = ControlServer(self._control)
            try:
                self.control.start()
            except AlreadyRunning:
                print("Parley is already running; use `parley toggle` to talk to it.")
                self.control = None
                return False
            except OSError as e:  # no socket: the app works, `parley toggle` does not
                log.warning("control socket unavailable: %s", e)
                self.control = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            from ui.tray import Tray

            self.tray = Tray(self.window, self.window.toggle_listening, self.quit)
            listen = self.window.listen
            listen.changed.connect(lambda state: self.tray.set_state(state, listen.can_listen))
            self.tray.show()
            self.window.tray_available = True
        self.app.setQuitOnLastWindowClosed(self.tray is None)
        self._start_hotkey()
        self.window.show()
        log.info("window shown")  # `parley bench startup` times the app to this line
        # Engines load on a background thread, started once the window has been
        # painted: some engines hold the GIL while they load.
        QTimer.singleShot(100, self.controller.start)
        if self.use_onboarding and not flag_path(ONBOARDED_FLAG).exists():
            self.run_onboarding()
        return True

    def _start_hotkey(self) -> None:
        if self.hotkey is not None:
            self.hotkey.stop()
            self.hotkey = None
        self.hotkey_handler.mode = self.settings.hotkey_mode
        help_text = fallback_help(self.settings.hotkey)
        if not self.use_hotkey:
            self.window.hotkey_help = help_text
            return
        hk = GlobalHotkey(self.settings.hotkey, self.hotkey_handler, self.bridge.run_on_gui)
        reason = hk.start()
        if reason is None:
            self.hotkey = hk
            self.window.hotkey_help = (
                f"The global push-to-talk hotkey is {self.settings.hotkey} "
                f"({self.settings.hotkey_mode} mode).\n\n{help_text}"
            )
            return
        self.window.hotkey_help = f"No global hotkey: {reason}\n\n{help_text}"
        flag = flag_path(HOTKEY_NOTICE_FLAG)
        if not flag.exists():  # say it once; the Help menu keeps it
            self.window.notices.show_notice(
                "hotkey", f"No global push-to-talk hotkey: {reason}\n\n{help_text}"
            )
            try:
                paths.ensure_dir(flag.parent)
                flag.write_text("shown\n", encoding="utf-8")
            except OSError:
                pass

    def _timer_finished(self, text: str) -> None:
        """A timer went off: a chime and the desktop's notification (the
        window has already put the words in the conversation)."""
        from ui.chime import play_chime

        play_chime(self.settings.output_device)
        if self.tray is not None:
            self.tray.showMessage("Parley", text, QSystemTrayIcon.MessageIcon.Information, 15000)
        elif shutil.which("notify-send"):  # no tray (GNOME): the desktop's own notifier
            QProcess.startDetached("notify-send", ["--app-name=Parley", "Parley", text])

    def _core_ready(self) -> None:
        self.window.load_current()
        self.window.core_ready()

    def quit(self) -> None:
        self.shutdown()
        self.app.quit()

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        log.info("GUI stall max over the session: %.1f ms", self.window.stall.max_ms)
        if self.hotkey is not None:
            self.hotkey.stop()
        if self.control is not None:
            self.control.close()
        if self.tray is not None:
            self.tray.hide()
        self.window.stall.stop()
        wizard = getattr(self, "onboarding", None)
        if wizard is not None:  # its microphone check and download run on their own threads
            wizard.mic.stop_check()
            wizard.models_page.cancel()  # the .partial stays: the next pull resumes it
        restart = getattr(self, "_restart", None)
        if restart is not None:
            restart.join(timeout=30)
        self.controller.close()
        self.bridge.close()

    # -- control socket (called on its thread: only queue work) ---------------------

    def _control(self, command: str) -> str:
        if command == "show":
            self.bridge.run_on_gui(self.window.bring_to_front)
            return "shown"
        listen = self.window.listen  # plain reads: safe on this thread
        if command == "toggle":
            return listen.toggle(self.controller)
        if command == "start":
            if not listen.can_listen:
                return f"cannot listen: {listen.why_not}"
            self.controller.start_listening()
            return "listening"
        if command == "stop":
            self.controller.stop_listening()
            return "stopped listening"
        return "ok"

    # -- settings and onboarding ----------------------------------------------------------------

    def open_settings(self) -> None:
        from ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.window)
        if dialog.exec():
            self.apply_settings(dialog.saved)

    def apply_settings(self, new: Settings | None) -> None:
        if new is None:
            return
        old, self.settings = self.settings, new
        self.window.settings = new
        self.window.apply_developer()
        if new.theme != old.theme:
            theme.apply_theme(self.app, new.theme)
        if (new.hotkey, new.hotkey_mode) != (old.hotkey, old.hotkey_mode):
            self._start_hotkey()
        changed = {k for k in CORE_KEYS if getattr(new, k) != getattr(old, k)}
        if changed:
            self.restart_core()

    def restart_core(self) -> None:
        """Settings the core reads at start-up changed: start a new core with them.
        The old one closes on the GUI thread (its threads stop within a second)."""
        self.window.statusBar().showMessage("Applying the new settings…")
        old = self.controller
        new = Controller(self.bridge, self.options)
        new.on_ready = lambda: self.bridge.run_on_gui(self._core_ready)
        self.controller = new
        self.window.controller = new
        self.window.ptt.target = new
        self.window.confirm._answer = new.confirm
        self.hotkey_handler.target = new
        self.window.set_state(State.IDLE)
        self.window.set_can_listen(True)  # the new core says again what it cannot do
        for key in list(self.window.notices.lines):
            if key != "hotkey":
                self.window.notices.clear(key)

        def swap() -> None:  # off the GUI thread: closing joins the core's threads
            old.close()
            new.start()

        self._restart = threading.Thread(target=swap, name="core-restart", daemon=True)
        self._restart.start()

    def run_onboarding(self) -> None:
        from ui.onboarding import Onboarding

        current = getattr(self, "onboarding", None)
        if current is not None:  # already open
            current.raise_()
            return
        wizard = Onboarding(self.controller, self.bridge, self.settings, self.window)
        wizard.finished.connect(lambda _code: self._onboarding_done(wizard))
        wizard.open()
        self.onboarding = wizard

    def _onboarding_done(self, wizard: Any) -> None:
        if self.onboarding is wizard:  # Help > Run set-up again makes a new one
            self.onboarding = None
        wizard.deleteLater()  # after this slot: its saved settings are read below
        try:
            paths.ensure_dir(paths.data_dir())
            flag_path(ONBOARDED_FLAG).write_text("done\n", encoding="utf-8")
        except OSError as e:
            log.warning("cannot record that onboarding ran: %s", e)
        if wizard.saved is not None:
            self.apply_settings(replace(wizard.saved))
