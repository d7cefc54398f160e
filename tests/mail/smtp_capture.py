"""A loopback SMTP server (aiosmtpd) capturing what it receives, for the mail-out tests.
Replies can be scripted: ``fail_next("451 4.3.0 try later")`` answers the next DATA with it,
``handler.hold_s`` delays the answer to DATA;
``drop_after_data()`` takes the next message and closes the connection without answering
(the unknown outcome of issue 17)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    data: bytes
    at: float = field(default_factory=time.time)  # when the message data arrived

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    messages: list[Captured] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)  # scripted answers to DATA, in order
    hold_s: float = 0.0  # the answer to DATA waits this long after the message is captured
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            reply = self.replies.pop(0) if self.replies else "250 OK"
        if reply == "DROP":
            self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.content)))
            server.transport.close()
            return "250 OK"  # never reaches the client: the connection is gone
        if reply.startswith("250"):
            self.messages.append(Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                          bytes(envelope.content)))
        if self.hold_s:
            await asyncio.sleep(self.hold_s)  # a sender killed meanwhile never hears the 250
        return reply


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpCapture:
    def __init__(self) -> None:
        self.handler = _Handler()
        self.port = _free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpCapture:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?tls=none"

    @property
    def messages(self) -> list[Captured]:
        return list(self.handler.messages)

    def fail_next(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.replies.extend(replies)

    def drop_after_data(self) -> None:
        self.fail_next("DROP")
