"""The operations the gateway answers itself, each bound to its handler with `answers()`; every other operation
of the catalogue is forwarded (services/gateway/forwarding.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.api.operations import Operation

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OWN: dict[str, Handler] = {}  # operation id -> the gateway's own handler


def answers(op: Operation) -> Callable[[Handler], Handler]:
    def bind(handler: Handler) -> Handler:
        if op.id in OWN:
            raise ValueError(f"{op.id} already has a handler")
        OWN[op.id] = handler
        return handler

    return bind
