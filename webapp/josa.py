"""Korean particles (josa) after values put into a translated message.

A Korean particle has two forms, chosen by whether the word before it ends in a final consonant
(batchim): "컨테이너를" but "웹을". A message's Korean text is written once for every value, so
``"%(name)s라는"`` reads wrong when the name is ``my-web`` ("웹", with a final consonant: it must
be "my-web이라는"). :func:`format_ko` formats a message and then picks, after each value, the
form its last sound needs.

Names in the labs are mostly Latin letters, digits and punctuation (``my-web``, ``8080``,
``a3_timeline``, ``80/tcp``), so the last sound is read the way Korean speakers read them: a
digit by its Sino-Korean name (0 영, 1 일, ... 9 구), a word by how its English ending sounds
(``-b`` 웹, ``-ne`` 라인), a run of consonants without a vowel (``tcp``, ``txt``) letter by letter
(티씨피). This is a heuristic: an unusual word can still get the other form, never a broken one.
Rules of the particle pairs: the National Institute of Korean Language's standard grammar (표준
국어대사전, entries 을, 이, 은, 으로, 과); "으로" takes the "로" form after ㄹ as after a vowel.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# (form after a final consonant, form after a vowel), longest first so that "이라는" is not
# read as "이" + "라는". A form is only taken for a particle when it is written right after the
# value, with no space, as particles are.
PAIRS: tuple[tuple[str, str], ...] = (
    ("이라는", "라는"), ("이라고", "라고"), ("이에요", "예요"), ("이었", "였"), ("이나", "나"),
    ("이랑", "랑"), ("으로", "로"), ("을", "를"), ("은", "는"), ("과", "와"), ("이", "가"),
)
_FORMS = sorted(((form, pair) for pair in PAIRS for form in pair), key=lambda fp: -len(fp[0]))

NONE, FINAL, RIEUL = "none", "final", "rieul"  # no final consonant; one; the final ㄹ

# Sino-Korean digit names: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT = {"0": FINAL, "1": RIEUL, "2": NONE, "3": FINAL, "4": NONE, "5": NONE, "6": FINAL,
          "7": RIEUL, "8": RIEUL, "9": NONE}
# Letter names as Korean speakers say them (엘, 엠, 엔, 알 end in a consonant; 비, 씨, ... not).
_LETTER = {"l": RIEUL, "m": FINAL, "n": FINAL, "r": RIEUL}
_VOWELS = set("aeiou")

_MARK_OPEN, _MARK_CLOSE = "\u2063\u2060", "\u2060\u2063"  # invisible, never in a message
_MARKED = re.compile(re.escape(_MARK_OPEN) + "(.*?)" + re.escape(_MARK_CLOSE), re.S)


def final_sound(word: str) -> str | None:
    """How ``word`` ends when read aloud in Korean: :data:`NONE`, :data:`FINAL` or
    :data:`RIEUL`; None when it ends in nothing readable (only punctuation)."""
    w = word.rstrip(" \t\n'\"`)]}>.,:;!?/\\*-_~")
    if not w:
        return None
    ch = w[-1]
    if _is_syllable(ch):  # a Hangul syllable: its final consonant, if any
        jong = (ord(ch) - 0xAC00) % 28
        return NONE if jong == 0 else RIEUL if jong == 8 else FINAL
    if ch.isdigit():
        return _DIGIT.get(ch, NONE)
    if not ch.isascii() or not ch.isalpha():
        return None
    letters = re.search(r"[A-Za-z]+$", w).group(0)
    if len(letters) == 1 or letters.isupper() or not _VOWELS & set(letters.lower()):
        return _LETTER.get(letters[-1].lower(), NONE)  # read letter by letter: tcp, API, x
    low = letters.lower()
    if low.endswith(("ng",)):
        return FINAL  # -ng: ㅇ
    if low.endswith(("ne", "me")):
        return FINAL  # a silent e after n or m: line 라인, name 네임
    last = low[-1]
    if last == "l":
        return RIEUL  # -l: ㄹ (mail 메일, html's l)
    if low.endswith("ck") or last in "mn":
        return FINAL  # back 백, room 룸, run 런
    if last in "bckpt":
        # After a vowel the consonant closes the syllable (web 웹, mac 맥, app 앱, set 셋);
        # after another consonant it gets its own vowel (latest 레이티스트, script 스크립트).
        # A doubled letter is one consonant (app 앱, butt 벗).
        after_consonant = len(low) > 1 and low[-2] not in _VOWELS and low[-2] != last
        return NONE if after_consonant else FINAL
    if last in "dg":
        return NONE  # node 노드, build 빌드, tag 태그: read with a following vowel (드, 그)
    return NONE  # vowels and -f, -h, -r, -s, -v, -w, -x, -y, -z: docker 도커, redis 레디스


def particle(word: str, written: str) -> str:
    """The form of the particle ``written`` (either form of a pair in :data:`PAIRS`) that
    ``word`` takes; ``written`` itself when the word's last sound cannot be told."""
    pair = next((p for p in PAIRS if written in p), None)
    sound = final_sound(word)
    if pair is None or sound is None:
        return written
    if pair[0] == "으로":
        return "으로" if sound == FINAL else "로"
    return pair[0] if sound in (FINAL, RIEUL) else pair[1]


def _is_syllable(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


_CLOSING = "'\"’”)]"  # a value quoted in a message: the particle follows the closing mark


def _fix_after(text: str, value: str) -> str:
    """``text`` (what follows ``value``) with its leading particle, if any, in the right form;
    also after closing quotes or brackets right after the value ("'docker start my-web'으로"),
    and when both forms are written ("이(가)": it became "가(가)").
    A one-syllable form counts only when a word does not go on after it: "이고" is the copula
    ("is, and"), not the particle "이" followed by "고"."""
    marks = len(text) - len(text.lstrip(_CLOSING))
    head, body = text[:marks], text[marks:]
    for form, pair in _FORMS:
        if body.startswith(form):
            rest = body[len(form):]
            # Both forms written, the old way ("이(가)", "은(는)"): one is chosen, the other goes.
            other = pair[1] if form == pair[0] else pair[0]
            if rest.startswith(f"({other})"):
                rest = rest[len(other) + 2:]
            elif len(form) == 1 and rest and _is_syllable(rest[0]):
                return text
            return head + particle(value, form) + rest
    return text


def format_ko(template: str, params: Mapping[str, Any]) -> str:
    """``template % params`` (``%(key)s`` placeholders), with every particle written right after
    a value put in the form that value needs. Meant for Korean text; other text comes out as
    plain ``%`` formatting gives it (no particle follows a value there)."""
    as_text = set(re.findall(r"%\((\w+)\)s", template))  # values other than %(key)s stay as they are
    marked = {k: f"{_MARK_OPEN}{v}{_MARK_CLOSE}" if k in as_text else v for k, v in params.items()}
    text = template % marked
    out: list[str] = []
    pos = 0
    pending_value: str | None = None
    for m in _MARKED.finditer(text):
        chunk = text[pos:m.start()]
        if pending_value is not None:
            chunk = _fix_after(chunk, pending_value)
        out.append(chunk)
        out.append(m.group(1))
        pending_value = m.group(1)
        pos = m.end()
    tail = text[pos:]
    out.append(_fix_after(tail, pending_value) if pending_value is not None else tail)
    return "".join(out)


def say(message: Any, params: Mapping[str, Any]) -> str:
    """``message % params`` for a (lazy) translated ``message`` in the active language; in
    Korean through :func:`format_ko`, so the particles after the values agree with them."""
    from django.utils.translation import get_language

    text = str(message)
    if (get_language() or "").startswith("ko"):
        return format_ko(text, params)
    return text % params
