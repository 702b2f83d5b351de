"""The Celery broker connection on the real Redis: no read may wait forever."""
from __future__ import annotations

import time

import pytest
from django.conf import settings

pytestmark = pytest.mark.celery


def test_the_worker_broker_connection_has_a_read_timeout():
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: this test needs a real Redis ('make test')")
    from webapp.celery import app

    with app.connection_for_read() as conn:
        kwargs = conn.default_channel.client.connection_pool.connection_kwargs
        assert kwargs["socket_timeout"] == 30 and kwargs["socket_connect_timeout"] == 10


def test_a_read_that_gets_no_reply_gives_up_as_a_connection_error():
    """A BRPOP whose reply does not come within socket_timeout raises an error kombu counts as a
    lost connection (so the worker reconnects), instead of waiting forever as with no timeout."""
    if not settings.REDIS_URL:
        pytest.fail("REDIS_URL is not set: this test needs a real Redis ('make test')")
    from kombu import Connection

    from webapp.celery import app

    options = {**app.conf.broker_transport_options, "socket_timeout": 1}
    with Connection(app.conf.broker_url, transport_options=options) as conn:
        channel = conn.default_channel
        t0 = time.monotonic()
        with pytest.raises(conn.connection_errors):
            # The server would answer after 5 s; the client stops waiting after 1 s.
            channel.client.brpop(["bungeotest-no-such-queue"], timeout=5)
        assert time.monotonic() - t0 < 4
