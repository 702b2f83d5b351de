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
