"""HTTP/1.1 over a plain socket, for tests of what a client library would never send:
bodies larger than they claim, bytes trickled one at a time, connections left half-sent."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from harness.processes import LOOPBACK


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class RawConnection:
    """One TCP connection to a server on the loopback interface."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=10)
        self._received = b""
        self.closed_by_server = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_head(self, method: str, path: str, headers: Mapping[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    @property
    def unread(self) -> bytes:
        """What the server wrote that no response read took."""
        return self._received

    def has_data(self) -> bool:
        """Whether the server has written something (or closed) that was not read yet."""
        return bool(self._received) or bool(select.select([self.sock], [], [], 0)[0])

    def trickle(self, data: bytes, interval: float, stop_after: float) -> float:
        """Send `data` a byte at a time, one every `interval` seconds, until the server
        writes or closes, or `stop_after` seconds pass; the seconds it went on."""
        started = time.monotonic()
        for byte in data:
            try:
                if self.has_data() or time.monotonic() - started > stop_after:
                    break
                self.send(bytes([byte]))
            except (OSError, ValueError):  # closed, by the server or by the test
                break
            time.sleep(interval)
        return time.monotonic() - started

    def read_response(self, timeout: float) -> RawResponse:
        """The next response; raises TimeoutError when it is not complete within `timeout`."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self._received:
            self._read_more(deadline)
        head, _, rest = self._received.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            self._read_more(deadline)
            rest = self._received.partition(b"\r\n\r\n")[2]
        self._received = rest[length:]
        return RawResponse(int(status_line.split()[1]), headers, rest[:length])

    def wait_closed(self, timeout: float) -> bool:
        """Whether the server closes the connection within `timeout` (bytes are read past)."""
        deadline = time.monotonic() + timeout
        try:
            while not self.closed_by_server:
                self._read_more(deadline)
        except TimeoutError:
            return False
        return True

    def _read_more(self, deadline: float) -> None:
        if self.closed_by_server:
            raise ConnectionError("the server closed the connection")
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([self.sock], [], [], remaining)[0]:
            raise TimeoutError("no answer in time")
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed_by_server = True
            return
        self._received += data
