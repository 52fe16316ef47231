"""psycopg2's ``Notify``: a notification received on a connection that LISTENs."""

from __future__ import annotations

from typing import Any, Iterator, Tuple


class Notify:
    """A ``NOTIFY``: ``pid`` (the notifying server process), ``channel``, ``payload``.

    As in psycopg2 it also behaves as the tuple ``(pid, channel)`` (indexing, unpacking,
    comparison, hashing), which is what psycopg2 1.x returned.
    """

    __slots__ = ("pid", "channel", "payload")

    def __init__(self, pid: int, channel: str, payload: str = "") -> None:
        self.pid = pid
        self.channel = channel
        self.payload = payload

    def _tuple(self) -> Tuple[int, str]:
        return (self.pid, self.channel)

    def __repr__(self) -> str:
        return f"Notify({self.pid!r}, {self.channel!r}, {self.payload!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Notify):
            return (self.pid, self.channel, self.payload) == (
                other.pid,
                other.channel,
                other.payload,
            )
        if isinstance(other, tuple):
            return self._tuple() == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        if not self.payload:
            return hash(self._tuple())
        return hash((self.pid, self.channel, self.payload))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: Any) -> Any:
        return self._tuple()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._tuple())
