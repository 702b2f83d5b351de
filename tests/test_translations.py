"""Every learner-facing string has a Korean translation (Korean is the course's first language)."""
from __future__ import annotations

from pathlib import Path

import polib

PO = Path(__file__).resolve().parents[1] / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def test_no_korean_translation_is_missing_or_fuzzy():
    po = polib.pofile(str(PO))
    def translated(e) -> bool:
        if e.msgid_plural:
            return bool(e.msgstr_plural) and all(e.msgstr_plural.values())
        return bool(e.msgstr)

    missing = [e.msgid for e in po if not e.obsolete and (not translated(e) or "fuzzy" in e.flags)]
    assert missing == []


def test_placeholders_match():
    import re

    po = polib.pofile(str(PO))
    for e in po:
        if e.obsolete or not e.msgstr:
            continue
        want = sorted(re.findall(r"%\(\w+\)s", e.msgid))
        assert sorted(re.findall(r"%\(\w+\)s", e.msgstr)) == want, e.msgid


def test_every_string_marked_in_the_code_is_in_the_catalog(tmp_path):
    """Extract the marked strings from a copy of the code (Django's makemessages, as a
    translator would) and check none comes out untranslated: a message added to the code but
    never to django.po shows in English to Korean learners, and the other tests here, which
    read django.po only, cannot see it."""
    import os
    import shutil
    import subprocess
    import sys

    root = PO.parents[3]
    for name in ("webapp", "labs", "exercises", "templates", "locale"):
        shutil.copytree(root / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(root / "manage.py", tmp_path)
    res = subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-obsolete"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    po = polib.pofile(str(tmp_path / "locale" / "ko" / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in po if not e.obsolete and ("fuzzy" in e.flags or not (
        e.msgstr or (e.msgid_plural and all(e.msgstr_plural.values()))))]
    assert untranslated == []
