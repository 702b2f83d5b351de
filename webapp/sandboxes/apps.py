from django.apps import AppConfig


class SandboxesConfig(AppConfig):
    name = "webapp.sandboxes"
    label = "sandboxes"
    verbose_name = "Sandboxes"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the login warm-up
