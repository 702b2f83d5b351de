"""Blocking calls from the terminal and lab consumers (Docker API requests, execs in a sandbox,
reads of a learner's engine) run in threads of one pool of their own.

``asyncio.to_thread`` uses the event loop's default executor, which Python sizes by the host's
CPUs: ``min(32, os.cpu_count() + 4)`` threads, 6 on a 2-core classroom host
(https://docs.python.org/3/library/concurrent.futures.html#threadpoolexecutor). Every terminal
and lab page of the server shares it, and some calls wait for seconds (a sandbox starting, an
inner engine that is slow to answer, a learner's engine with hundreds of containers to read):
six of those at once and every other learner's page waited in line, a new terminal stuck on
"Connecting to your sandbox…". The threads mostly wait on sockets, so many are cheap.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.conf import settings

T = TypeVar("T")
_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def pool() -> ThreadPoolExecutor:
    """The shared pool, BUNGEO_BLOCKING_THREADS threads, made on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.BUNGEO_BLOCKING_THREADS,
                                       thread_name_prefix="bungeo-blocking")
        return _pool


async def to_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``func(*args, **kwargs)`` in the shared pool and return its result (or raise its
    exception), as :func:`asyncio.to_thread` does (the context variables go along)."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await loop.run_in_executor(pool(), call)
