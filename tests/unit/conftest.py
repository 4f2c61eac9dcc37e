"""The unit tier opens no socket: any attempt to bind or connect an internet socket fails the test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

_INET = (socket.AF_INET, socket.AF_INET6)


class SocketUsedError(AssertionError):
    """A unit test tried to open a network connection or listen on a port."""


@pytest.fixture(autouse=True)
def _no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_connect, real_bind = socket.socket.connect, socket.socket.bind

    def guard(real):  # type: ignore[no-untyped-def]
        def call(self: socket.socket, address: object) -> object:
            if self.family in _INET:
                raise SocketUsedError(f"unit tests must not open sockets ({real.__name__} {address!r})")
            return real(self, address)

        return call

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "bind", guard(real_bind))
    yield
