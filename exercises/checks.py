"""System checks of the assignments (``manage.py check``, and every ``runserver`` / ``migrate``):
each assignment's ``grading.yaml`` is validated against its grader when the site starts, so a
typo is reported at deploy time instead of failing a learner's grading run.

See Django's system check framework: https://docs.djangoproject.com/en/5.2/topics/checks/
"""
from __future__ import annotations

from django.core import checks

from . import registry

E_GRADING_YAML = "exercises.E001"
E_GRADER = "exercises.E002"
TAG = "exercises"


@checks.register(TAG)
def check_grading_yaml(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """One :class:`django.core.checks.Error` per problem of every assignment's ``grading.yaml``
    (``obj`` is the file's path; ``msg`` says what is wrong: unknown key, wrong type, a hidden
    id that is no check of that assignment's grader, a ``workspace_folder`` that is not relative
    to /root, YAML that does not parse), and one per grader whose check ids cannot be read
    (``exercises.E002``). An assignment without ``grading.yaml`` is fine (defaults). Reads the
    folders under :data:`exercises.registry.ASSIGNMENTS_DIR`; skipped when ``app_configs`` is
    given without this app."""
    if app_configs is not None and not any(c.name == "exercises" for c in app_configs):
        return []
    errors: list[checks.CheckMessage] = []
    for assignment in registry.assignments().values():
        path = assignment.folder / "grading.yaml"
        if not path.exists():
            continue
        try:
            titles = getattr(assignment.grader, "TITLES", None)
        except Exception as exc:  # noqa: BLE001 - any import error of a grader is reported
            errors.append(checks.Error(
                f"the grader cannot be loaded, so its check ids are unknown: "
                f"{exc.__class__.__name__}: {exc}",
                obj=str(assignment.folder / "grader.py"), id=E_GRADER))
            continue
        try:
            registry.load_grading_config(assignment.folder, assignment.id, titles=titles)
        except registry.GradingConfigError as exc:
            errors.extend(checks.Error(problem, obj=str(path), id=E_GRADING_YAML,
                                       hint="See 'Grading' in docs/operations.md.")
                          for problem in exc.problems)
    return errors
