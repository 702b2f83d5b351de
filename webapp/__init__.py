"""The bungeo Django project: settings, URLs, ASGI and Celery wiring, and the platform apps."""
from .celery import app as celery_app

__all__ = ["celery_app"]
