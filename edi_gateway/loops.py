"""The one shape of the gateway's background loops (ack outbox, MDN delivery, tender clerk,
audit notary): a thread that calls `step()` until stopped, and between steps that found
nothing to do waits for `wake` or `poll_seconds`. A failing step is logged, never fatal."""

from __future__ import annotations

import threading

import structlog

log = structlog.get_logger("edi_gateway.loops")


class Loop:
    name = "loop"
    poll_seconds = 1.0

    def __init__(self) -> None:
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> bool:
        """Do one round of work; True when there may be more to do at once."""
        raise NotImplementedError

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.step()
            except Exception:
                log.exception("loop.step_failed", loop=self.name)
                busy = False
            if not busy:
                self.wake.wait(self.poll_seconds)
                self.wake.clear()
