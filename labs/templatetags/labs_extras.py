"""Template helpers for lab pages."""
from django import template

register = template.Library()


@register.filter
def lang(texts: dict, code: str) -> str:
    """``{{ question.prompt|lang:lang }}``: a ``{ko, en}`` text in the page's language."""
    return texts.get(code) or texts.get("en", "")
