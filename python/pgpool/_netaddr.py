"""Network address types: psycopg2's ``Inet`` / ``register_inet`` (inet values as
``Inet`` objects) and ``register_ipaddress`` (inet and cidr as the ``ipaddress``
module's objects)."""

from __future__ import annotations

import ipaddress as _ip
import warnings as _warnings
from typing import Any, Optional, Sequence, Union

from . import _pgpool
from . import extensions as _ext

__all__ = ["Inet", "register_inet", "register_ipaddress"]


class Inet:
    """An inet value: ``addr`` is its text (``'192.168.1.0/24'``); as a parameter,
    ``'addr'::inet``."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        self._conn: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.addr!r})"

    def __conform__(self, proto: Any) -> Inet:
        return self

    def prepare(self, conn: Any) -> None:
        """Quote for ``conn`` from now on."""
        self._conn = conn

    def getquoted(self) -> bytes:
        """The SQL for the address."""
        return (_pgpool._quote(str(self.addr), self._conn) + "::inet").encode()

    def __str__(self) -> str:
        return str(self.addr)


def register_inet(
    oid: Union[None, int, Sequence[int]] = None, conn_or_curs: Any = None
) -> Any:
    """inet values (and inet[]) as :class:`Inet` objects (deprecated in psycopg2: see
    :func:`register_ipaddress`). Returns the typecaster."""
    _warnings.warn(
        "the inet adapter is deprecated, it's not very useful",
        DeprecationWarning,
        stacklevel=2,
    )
    oids: Any
    if oid is None:
        oids = (869, 1041)
    elif isinstance(oid, (list, tuple)):
        oids = (oid[0], oid[1])
    else:
        oids = (oid, 1041)
    inet = _ext.new_type(
        (oids[0],), "INET", lambda v, c: Inet(v) if v is not None else None
    )
    array = _ext.new_array_type((oids[1],), "INETARRAY", inet)
    _ext.register_type(inet, conn_or_curs)
    _ext.register_type(array, conn_or_curs)
    return inet


def _interface(v: Optional[str], c: Any) -> Any:
    return None if v is None else _ip.ip_interface(v)


def _network(v: Optional[str], c: Any) -> Any:
    return None if v is None else _ip.ip_network(v)


def _as_text(obj: Any) -> str:
    return str(obj)


def register_ipaddress(conn_or_curs: Any = None) -> None:
    """inet values as ``ipaddress.ip_interface()`` objects and cidr values as
    ``ip_network()`` objects (and their arrays), on ``conn_or_curs`` or globally;
    ``ipaddress`` objects become parameters (their text)."""
    inet = _ext.new_type((869,), "INET", _interface)
    cidr = _ext.new_type((650,), "CIDR", _network)
    for caster in (
        inet,
        cidr,
        _ext.new_array_type((1041,), "INETARRAY", inet),
        _ext.new_array_type((651,), "CIDRARRAY", cidr),
    ):
        _ext.register_type(caster, conn_or_curs)
    for t in (
        _ip.IPv4Interface,
        _ip.IPv6Interface,
        _ip.IPv4Network,
        _ip.IPv6Network,
        _ip.IPv4Address,
        _ip.IPv6Address,
    ):
        _ext.register_adapter(t, _as_text)
