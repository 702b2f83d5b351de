"""Ending a streamed HTTP answer early, so that the browser knows it is incomplete.

ASGI has no message for "abort this response": a server (uvicorn) ends the connection without
completing the answer (no last chunk of a chunked body) only when the application raises. The
browser then reports the body as incomplete (Chromium: ``net::ERR_INCOMPLETE_CHUNKED_ENCODING``)
instead of showing a cut page as if it were whole. uvicorn also logs the exception as an ERROR
with its traceback; :class:`DropAbortedResponses` removes that record for
:class:`ResponseAborted`, whose raiser logs the reason itself (ASGI HTTP spec, "Response Body":
https://asgi.readthedocs.io/en/latest/specs/www.html).
"""
from __future__ import annotations

import logging


class ResponseAborted(Exception):
    """Raised by the body iterator of a StreamingHttpResponse to end the connection without
    completing the answer. The raiser has already logged why, at the level it chose."""


class DropAbortedResponses(logging.Filter):
    """A logging filter for the ``uvicorn.error`` logger: drops the "Exception in ASGI
    application" record of a :class:`ResponseAborted` (an intended end, logged by its raiser);
    every other record passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ResponseAborted)
