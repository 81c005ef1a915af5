"""One lifecycle for every service: connect, provision, wire, serve, drain.

A service is a *wiring function* ``wire(runtime) -> [coroutines]``: it builds its adapters
from the runtime, and returns the long-running loops (consumers, pollers). ``run`` starts
them, serves /healthz, /readyz and /metrics, and on SIGTERM or SIGINT stops pulling, lets
in-flight work finish within ``shutdown_grace`` seconds, drains NATS and closes. The probes
answer from the start (/readyz 503 until wired), and a stop while NATS is still unreachable
(or while provisioning) ends the service at once, cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.bus.connect import connect
from shared.bus.consume import Consumer, ConsumerSpec, Decoder, Handler
from shared.bus.provision import provision
from shared.bus.publish import publish
from shared.clock import Clock, clock_from_settings
from shared.contracts.base import Event
from shared.runtime import logging as jsonlog
from shared.runtime.http import HealthServer
from shared.runtime.metrics import Metrics
from shared.settings import CommonSettings, load_settings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=CommonSettings)
E = TypeVar("E")
T = TypeVar("T")


@dataclass
class Runtime:
    """What a wiring function gets: connections, clock, metrics and the stop signal."""

    name: str
    settings: CommonSettings
    nc: Client
    js: JetStreamContext
    metrics: Metrics
    clock: Clock
    stop: asyncio.Event
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _ready_checks: list[Callable[[], bool]] = field(default_factory=list)

    def consumer(
        self, spec: ConsumerSpec, handler: Handler[Any], decoder: Decoder[Any] | None = None
    ) -> Coroutine[Any, Any, None]:
        """A consume loop for ``handler``, to be returned from the wiring function."""
        consumer: Consumer[Any] = Consumer(
            self.js, spec, handler, service=self.name, metrics=self.metrics, decoder=decoder
        )
        return consumer.run(self.stop)

    async def publish(self, event: Event) -> None:
        await publish(self.js, event)

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Run ``closer`` after the loops have stopped (close pools, log out)."""
        self._closers.append(closer)

    def ready_when(self, check: Callable[[], bool]) -> None:
        """Add a readiness condition for /readyz (NATS connected is always one)."""
        self._ready_checks.append(check)

    def is_ready(self) -> bool:
        return self.nc.is_connected and all(check() for check in self._ready_checks)


Wiring = Callable[[Runtime], Awaitable[Sequence[Coroutine[Any, Any, None]]]]


async def run(
    name: str,
    settings: CommonSettings,
    wire: Wiring,
    stop: asyncio.Event,
    *,
    settle: Callable[[], None] | None = None,
) -> int:
    """Run one service until ``stop`` is set or a loop fails; returns an exit code.

    ``settle`` runs once the service is wired (the entrypoint passes ``settle_heap``; tests
    running services in-process pass nothing).
    """
    if settings.uses_dev_secret():
        log.warning("settings.dev_verp_secret", extra={"hint": "set OTAYORI_VERP_SECRET"})
    metrics = Metrics(name)
    wired: list[Runtime] = []  # the runtime, once wired: /readyz answers 503 until then
    # The probes answer from the start: alive while NATS is still unreachable (a pod waiting
    # for NATS is not restarted by its liveness probe), ready only once wired.
    http = HealthServer(metrics, lambda: bool(wired) and wired[0].is_ready())
    try:
        await http.start(settings.http_host, settings.http_port)
    except OSError as exc:
        # Another process holds the port (or the host is not this machine's): say which
        # setting to change, without a traceback.
        log.error(
            "service.http_unavailable",
            extra={
                "host": settings.http_host,
                "port": settings.http_port,
                "error": exc.strerror or str(exc),
                "hint": "set OTAYORI_HTTP_PORT (or OTAYORI_HTTP_HOST)",
            },
        )
        return 1
    try:
        nc = await _until_stopped(connect(settings, name=f"otayori-{name}"), stop)
        if nc is None:
            log.info("service.stopped", extra={"exit_code": 0, "phase": "connecting"})
            return 0
        return await _serve(name, settings, wire, stop, nc, metrics, wired, http, settle)
    finally:
        await http.close()


async def _serve(
    name: str,
    settings: CommonSettings,
    wire: Wiring,
    stop: asyncio.Event,
    nc: Client,
    metrics: Metrics,
    wired: list[Runtime],
    http: HealthServer,
    settle: Callable[[], None] | None,
) -> int:
    """Provision, wire and supervise on a connected client; drains it at the end."""
    js = nc.jetstream()
    if not await _until_stopped(_provisioned(js, settings.nats_replicas), stop):
        with contextlib.suppress(Exception):
            await nc.close()
        log.info("service.stopped", extra={"exit_code": 0, "phase": "provisioning"})
        return 0
    runtime = Runtime(
        name=name,
        settings=settings,
        nc=nc,
        js=js,
        metrics=metrics,
        clock=clock_from_settings(
            settings.clock_start, settings.clock_speed, settings.clock_anchor
        ),
        stop=stop,
    )
    loops = [asyncio.create_task(c) for c in await wire(runtime)]
    wired.append(runtime)
    if settle is not None:
        settle()
    metrics.up.set(1)
    log.info("service.started", extra={"loops": len(loops), "http_port": http.port})
    code = await _supervise(loops, stop, settings.shutdown_grace)
    metrics.up.set(0)
    for closer in reversed(runtime._closers):
        await closer()
    with contextlib.suppress(Exception):
        await nc.drain()
    log.info("service.stopped", extra={"exit_code": code})
    return code


async def _provisioned(js: JetStreamContext, replicas: int) -> bool:
    await provision(js, replicas)
    return True


async def _until_stopped(work: Coroutine[Any, Any, T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None when ``stop`` is set first (``work`` is then cancelled)."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def _supervise(loops: list[asyncio.Task[None]], stop: asyncio.Event, grace: float) -> int:
    """Wait for stop or for a loop to end; then give in-flight work ``grace`` seconds."""
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *loops], return_when=asyncio.FIRST_COMPLETED)
    failed = _failures([t for t in loops if t.done()])
    stop.set()
    stopper.cancel()
    pending = [t for t in loops if not t.done()]
    if pending:
        ended, late = await asyncio.wait(pending, timeout=grace)
        # A loop failing while it finishes its work in hand counts as much as the first.
        failed += _failures(list(ended))
        for task in late:
            log.warning("service.loop_cancelled_after_grace")
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
    return 1 if failed else 0


def _failures(ended: list[asyncio.Task[None]]) -> int:
    """Log every loop that ended with an error (or was cancelled by something else)."""
    count = 0
    for task in ended:
        if task.cancelled() or task.exception() is not None:
            exc = None if task.cancelled() else task.exception()
            log.error("service.loop_failed", exc_info=exc)
            count += 1
    return count


#: The cyclic garbage collector's thresholds (CPython's default is 700, 10, 10). A service
#: handling a burst allocates and frees millions of short-lived models; at 700 the
#: collector ran ~1,300 times in a 10,000-mail run of the mailer (1.3–1.5 s of CPU, its
#: collections scanning every mail in hand), at 50,000 nine times (0.2 s). Reference
#: counting still frees everything that is not in a cycle at once; the older generations
#: keep CPython's ratios, so cyclic garbage that grew old is still collected (every 5M
#: net allocations for a full collection, ~50,000 mails).
GC_THRESHOLD = (50_000, 10, 10)


def settle_heap() -> None:
    """After wiring: collect, then freeze what is left (the service's long-lived objects:
    modules, settings, connections, templates), so collections never scan it again."""
    gc.collect()
    gc.freeze()


def main(name: str, settings_cls: type[S], wire: Wiring) -> None:
    """Entrypoint of ``python -m services.<name>``."""
    gc.set_threshold(*GC_THRESHOLD)
    settings = load_settings(settings_cls)
    jsonlog.configure(name, settings.log_level)

    async def _main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await run(name, settings, wire, stop, settle=settle_heap)

    sys.exit(asyncio.run(_main()))
