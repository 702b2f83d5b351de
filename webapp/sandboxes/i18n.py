"""Language of a websocket connection, chosen as Django's LocaleMiddleware would for a page."""
from __future__ import annotations

from django.conf import settings
from django.utils.translation import trans_real


def language_from_scope(scope: dict) -> str:
    """The language code for an ASGI scope: the language cookie, else Accept-Language, else the
    default (``LANGUAGE_CODE``)."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    cookies = scope.get("cookies") or {}
    lang = cookies.get(settings.LANGUAGE_COOKIE_NAME)
    if lang:
        try:
            return trans_real.get_supported_language_variant(lang)
        except LookupError:
            pass
    for code, _q in trans_real.parse_accept_lang_header(headers.get("accept-language", "")):
        if code == "*":
            break
        try:
            return trans_real.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
