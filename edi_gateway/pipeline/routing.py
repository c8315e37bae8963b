"""Content-based router: rules from the configuration name the back-office queue."""

from __future__ import annotations

from edi_gateway.config import GatewaySettings
from edi_gateway.model import DocumentKind


class Router:
    def __init__(self, settings: GatewaySettings) -> None:
        self.routes = settings.routes
        self.defaults = settings.default_queues

    def queue_for(
        self, kind: DocumentKind, sender: str | None, receiver: str, test: bool
    ) -> str | None:
        """The first matching rule wins; then the default queue for the kind. Test documents
        that only match a default go to `<queue>.test`, never into a production queue."""
        names = {"kind": kind.value, "sender": sender or "-", "receiver": receiver}
        for rule in self.routes:
            if rule.matches(kind, sender, receiver, test):
                return rule.queue.format(**names)
        template = self.defaults.get(kind)
        if template is None:
            return None
        queue = template.format(**names)
        return f"{queue}.test" if test else queue
