"""Assignment folders: one per assignment, each with its handout, grader, reference solution and
broken variants. Folder names carry a slug (``a3-shared-volume``); :mod:`exercises.registry`
maps the short id (``a3``) to the folder and loads its ``grader.py``."""
