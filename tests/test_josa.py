"""Korean particles after values put into a message (webapp.josa): each pair both ways, the
values the labs use (container, volume, image names, ports, paths), and what must stay as it is."""
from __future__ import annotations

import pytest
from django.utils import translation

from webapp.josa import FINAL, NONE, RIEUL, final_sound, format_ko


@pytest.mark.parametrize("word, sound", [
    ("컨테이너", NONE), ("웹", FINAL), ("파일", RIEUL),
    ("my-web", FINAL), ("step-web", FINAL), ("life", NONE), ("nginx", NONE), ("docker", NONE),
    ("a3_timeline", FINAL), ("redis", NONE), ("postgres", NONE), ("notes", NONE),
    ("80/tcp", NONE), ("API", NONE), ("html", RIEUL), ("running", FINAL), ("app", FINAL),
    ("node", NONE), ("8080", FINAL), ("8081", RIEUL), ("3000", FINAL), ("5432", NONE),
    ("web1", RIEUL), ("~/bakery-fs.tar", NONE), ("'hello:1'", RIEUL), ("...", None), ("", None),
    ("nginx:latest", NONE), ("script", NONE), ("project", NONE), ("set", FINAL), ("back", FINAL),
])
def test_final_sound(word, sound):
    assert final_sound(word) == sound


@pytest.mark.parametrize("template, params, expected", [
    ("아직 %(name)s라는 이름의 컨테이너가 없습니다.", {"name": "my-web"},
     "아직 my-web이라는 이름의 컨테이너가 없습니다."),
    ("아직 %(name)s이라는 이름의 컨테이너가 없습니다.", {"name": "life"},
     "아직 life라는 이름의 컨테이너가 없습니다."),
    ("--name %(name)s로 이름을 지정하세요.", {"name": "my-web"}, "--name my-web으로 이름을 지정하세요."),
    ("--name %(name)s으로 이름을 지정하세요.", {"name": "life"}, "--name life로 이름을 지정하세요."),
    ("%(port)s으로", {"port": "8081"}, "8081로"),  # ㄹ takes 로
    ("볼륨 %(volume)s를 마운트합니다.", {"volume": "a3_timeline"}, "볼륨 a3_timeline을 마운트합니다."),
    ("%(a)s과 %(b)s을", {"a": "redis", "b": "postgres"}, "redis와 postgres를"),
    # the value quoted: the particle follows the closing quote
    ("'docker start %(name)s'로 시작하세요.", {"name": "step-web"},
     "'docker start step-web'으로 시작하세요."),
    ("'docker top %(name)s'가 필요합니다", {"name": "step-web"}, "'docker top step-web'이 필요합니다"),
    ("%(found)s은 있지만", {"found": "nginx:latest"}, "nginx:latest는 있지만"),
    ("%(name)s가 실행 중이고 %(other)s는 멈췄습니다.", {"name": "step-web", "other": "nginx"},
     "step-web이 실행 중이고 nginx는 멈췄습니다."),
])
def test_the_particle_after_a_value_takes_the_form_the_value_needs(template, params, expected):
    assert format_ko(template, params) == expected


@pytest.mark.parametrize("template, params, expected", [
    ("%(name)s이고 %(n)d개", {"name": "docker", "n": 3}, "docker이고 3개"),  # the copula, not 이
    ("%(name)s 컨테이너가", {"name": "my-web"}, "my-web 컨테이너가"),  # a space: not a particle
    ("%(name)s의 포트", {"name": "my-web"}, "my-web의 포트"),  # 의 has one form
    ("%(path)s는", {"path": "..."}, "...는"),  # nothing readable: as written
    ("%(n)d번째 줄", {"n": 2}, "2번째 줄"),
])
def test_what_is_not_a_particle_after_a_value_stays(template, params, expected):
    assert format_ko(template, params) == expected


def test_lab_check_messages_use_it_in_korean_only():
    from labs.checks import MSG_NO_CONTAINER, CheckResult

    result = CheckResult(False, MSG_NO_CONTAINER, {"name": "my-web"})
    with translation.override("ko"):
        assert "my-web이라는" in result.message or "이름이 my-web인" in result.message, result.message
    with translation.override("en"):
        assert result.message == "There is no container named my-web yet."


def test_grader_messages_agree_in_korean_and_format_plainly_in_english():
    from django.utils.translation import gettext_lazy

    from webapp.josa import say

    msg = gettext_lazy("Both containers mount the named volume %(volume)s.")
    with translation.override("ko"):
        assert "a3_timeline을" in say(msg, {"volume": "a3_timeline"})  # was "a3_timeline를"
        assert "shared를" in say(msg, {"volume": "shared"})  # 셰어드: no final consonant
    with translation.override("en"):
        assert say(msg, {"volume": "a3_timeline"}) == "Both containers mount the named volume a3_timeline."


@pytest.mark.parametrize("template,value,want", [
    ("%(what)s이(가) 마운트되어", "tmpfs", "tmpfs가 마운트되어"),  # was "tmpfs가(가)"
    ("%(what)s이(가) 마운트되어", "volume", "volume이 마운트되어"),
    ("%(path)s은(는) 없어요", "/data", "/data는 없어요"),
    ("%(path)s은(는) 없어요", "my-web", "my-web은 없어요"),
    ("%(name)s을(를) 지우세요", "nginx", "nginx를 지우세요"),
])
def test_both_forms_written_become_the_one_the_value_needs(template, value, want):
    """Messages written the old way, with both forms ("이(가)"), keep only the right one."""
    key = template[2:template.index(")")]
    assert format_ko(template, {key: value}) == want


def test_every_korean_message_with_both_forms_reads_right_for_a_lab_value():
    """The catalog's Korean messages that write both forms after a value ("%(path)s은(는)"),
    formatted with lab values: no "(는)"-style leftover stays after a value."""
    import re
    from pathlib import Path

    import polib

    po = polib.pofile(str(Path(__file__).resolve().parent.parent / "locale/ko/LC_MESSAGES/django.po"))
    both = re.compile(r"%\((\w+)\)s(?:이\(가\)|은\(는\)|을\(를\)|과\(와\))")
    found = [e.msgstr for e in po if not e.obsolete and both.search(e.msgstr)]
    assert found, "the catalog has no message of that kind: this test checks nothing"
    leftover = re.compile(r"(?:tmpfs|/data|my-web)\((?:가|이|는|은|를|을|와|과)\)")
    for text in found:
        keys = set(re.findall(r"%\((\w+)\)s", text))
        for value in ("tmpfs", "/data", "my-web"):
            out = format_ko(text, {k: value for k in keys})
            assert not leftover.search(out), out
