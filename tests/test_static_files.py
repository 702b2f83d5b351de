"""Static files (stylesheets, scripts) through bungeo's ASGI app, as uvicorn serves them."""
from __future__ import annotations

import warnings

import httpx
import pytest


@pytest.mark.django_db
async def test_static_files_are_served_without_the_synchronous_iterator_warning():
    """WhiteNoise answered each static file with a synchronous iterator, which Django's ASGI
    handler reads whole in a thread and warns about: one 'StreamingHttpResponse must consume
    synchronous iterators' line in the server's log per stylesheet or script, on every page.
    ServeStatic answers with an asynchronous one. A file missing stays a 404, and a path that
    climbs out of the static folder finds nothing."""
    from webapp.asgi import application

    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            css = await client.get("/static/css/site.css")
            js = await client.get("/static/js/terminal.js")
        missing = await client.get("/static/css/no-such.css")
        climbing = await client.get("/static/..%2f..%2fwebapp/settings.py")
    assert css.status_code == 200 and ".run-block" in css.text
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    said = [str(w.message) for w in caught if "synchronous iterators" in str(w.message)]
    assert said == []
    assert missing.status_code == 404
    assert climbing.status_code == 404 and "SECRET_KEY" not in climbing.text
