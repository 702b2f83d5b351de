"""Every learner-facing string has a Korean translation (Korean is the course's first language)."""
from __future__ import annotations

from pathlib import Path

import polib

PO = Path(__file__).resolve().parents[1] / "locale" / "ko" / "LC_MESSAGES" / "django.po"


def test_no_korean_translation_is_missing_or_fuzzy():
    po = polib.pofile(str(PO))
    missing = [e.msgid for e in po if not e.obsolete and (not e.msgstr or "fuzzy" in e.flags)]
    assert missing == []


def test_placeholders_match():
    import re

    po = polib.pofile(str(PO))
    for e in po:
        if e.obsolete or not e.msgstr:
            continue
        want = sorted(re.findall(r"%\(\w+\)s", e.msgid))
        assert sorted(re.findall(r"%\(\w+\)s", e.msgstr)) == want, e.msgid
