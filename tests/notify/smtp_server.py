"""A real local SMTP server (aiosmtpd) for tests."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Collector:
    """aiosmtpd handler keeping every delivered message; ``refuse`` answers RCPT with 550."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse = refuse or set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def start_server(port: int | None = None, **kwargs) -> tuple[Controller, Collector]:  # type: ignore[no-untyped-def]
    handler = Collector(**kwargs)
    controller = Controller(handler, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, handler
