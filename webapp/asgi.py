"""ASGI entry point: Django for HTTP, Channels for websockets (terminals, grading progress)."""
from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

import exercises.routing  # noqa: E402
import labs.routing  # noqa: E402
from webapp.middleware import RequestBodyLimitMiddleware, SameOriginWebsocketMiddleware  # noqa: E402

# A websocket is taken only from a page of this site: its host among ALLOWED_HOSTS (Channels)
# and its origin the site itself, port included (see SameOriginWebsocketMiddleware).
application = ProtocolTypeRouter({
    "http": RequestBodyLimitMiddleware(django_asgi_app),  # bodies over BUNGEO_REQUEST_MAX_BYTES: 413
    "websocket": SameOriginWebsocketMiddleware(AllowedHostsOriginValidator(
        AuthMiddlewareStack(
            URLRouter(labs.routing.websocket_urlpatterns + exercises.routing.websocket_urlpatterns)
        )
    )),
})
