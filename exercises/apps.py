from django.apps import AppConfig


class ExercisesConfig(AppConfig):
    name = "exercises"
    verbose_name = "Assignments"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the grading.yaml system check
