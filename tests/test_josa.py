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
