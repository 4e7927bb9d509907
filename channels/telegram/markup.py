"""Telegram's entity parsing: the text a message shows once its markup is parsed, or why Telegram would
refuse the markup ("can't parse entities"). Mirrors the Bot API's "Formatting options"
(https://core.telegram.org/bots/api#formatting-options) and TDLib's parsers: MarkdownV2 with its
reserved characters, legacy Markdown, and HTML with its fixed tag set and four named entities.

Used by the block's length rule (``blocks``) and by the sandbox Bot API, which answers as Telegram would.
"""

from __future__ import annotations

import re

__all__ = ["SPACES", "visible_text"]

SPACES = " \t\r\n\v\f"

Parsed = tuple[str, str | None]  # (the text shown, or as much as was parsed; why Telegram refuses it)


def visible_text(text: str, mode: str) -> Parsed:
    """(text after entity parsing, None) or (partial text, reason Telegram would reject it); ``mode`` is
    spelled as seed 002 spells it ("Default", "Markdown", "Html", "MarkdownV2")."""
    parse = {"MarkdownV2": _markdown_v2, "Markdown": _markdown, "Html": _html}.get(mode)
    return parse(text) if parse else (text, None)


# After a pre block's opening ```: its language word (when a space follows it), then one line break.
_PRE_START = re.compile(r"(?:[^ \t\r\n\v\f`]+(?=[ \t\r\n\v\f]))?(?:\r\n|\n\r|\r|\n)?")


def _pre_body_start(text: str, i: int) -> int:
    """Where a pre block's text starts, its opening ``` ending just before ``i``."""
    return _PRE_START.match(text, i).end()  # every part is optional, so it always matches


# --------------------------------------------------------------------------
# MarkdownV2
# --------------------------------------------------------------------------

_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
# Opening markup -> entity kind, longest markup first.
_MDV2_OPEN = {"__": "underline", "_": "italic", "*": "bold", "~": "strikethrough", "||": "spoiler"}
_MDV2_OPEN |= {"![": "custom_emoji", "[": "text_url", "```": "pre", "`": "code"}
_MDV2_CLOSE = {kind: mark for mark, kind in _MDV2_OPEN.items()} | {"text_url": "]", "custom_emoji": "]"}
_MDV2_NAMES = {kind: f"{kind} ({mark})" for kind, mark in _MDV2_CLOSE.items()}
_MDV2_NAMES |= {"text_url": "link ([...](...))", "custom_emoji": "custom emoji (![...](tg://emoji?id=...))"}
_MDV2_ESCAPE = re.compile(r"\\([\x01-\x7e])")  # any ASCII character but NUL
# A run of text: no reserved character (only ` inside code and pre), no escape.
_MDV2_TEXT = re.compile(r"(?:[^" + re.escape(_MDV2_RESERVED) + r"\\]++|\\(?![\x01-\x7e]))+")
_MDV2_CODE_TEXT = re.compile(r"(?:[^`\\]++|\\(?![\x01-\x7e]))+")
_QUOTE_START = re.compile(r">|\*\*>")
_QUOTE_END = re.compile(r"\|\|(?=\n|\Z)")  # an expandable quotation's "||" ends its line
_MDV2_URL = re.compile(r"\((?:\\[\x01-\x7e]|[^)])*+\)")  # escapes skipped


def _markdown_v2(text: str) -> Parsed:
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # (entity kind, position of its opening markup)
    i = 0
    while i < len(text):
        top = stack[-1][0] if stack else ""
        if plain := (_MDV2_CODE_TEXT if top in ("code", "pre") else _MDV2_TEXT).match(text, i):
            out.append(plain[0])
            i = plain.end()
        elif escape := _MDV2_ESCAPE.match(text, i):
            out.append(escape[1])
            i += 2
        elif quote := _quote_mark(text, i, top):
            i += quote
        else:
            i, problem = _markup(text, i, stack)
            if problem:
                return "".join(out), problem
    if stack:
        kind, start = stack[-1]
        return "".join(out), f"can't find the end of the {_MDV2_NAMES[kind]} entity opened at character {start + 1}"
    return "".join(out), None


def _quote_mark(text: str, i: int, top: str) -> int:
    """Length of block quotation markup at ``i``: ">" (or "**>" for an expandable one) starting a line, or
    the "||" ending an expandable quotation's line; 0 for none."""
    if top in ("code", "pre"):
        return 0
    if (i == 0 or text[i - 1] == "\n") and (mark := _QUOTE_START.match(text, i)):
        return mark.end() - i
    if top != "spoiler" and _QUOTE_END.match(text, i) and _QUOTE_START.match(text, text.rfind("\n", 0, i) + 1):
        return 2
    return 0


def _markup(text: str, i: int, stack: list[tuple[str, int]]) -> tuple[int, str | None]:
    """Past the reserved character at ``i``, markup that ends the innermost entity or opens one; or why it is
    neither."""
    top = stack[-1][0] if stack else ""
    if _closes(text, i, top):
        stack.pop()
        return _close(text, i, top)
    mark = next((m for m in _MDV2_OPEN if text.startswith(m, i)), None)
    if mark is None:
        return i, f"character '{text[i]}' is reserved and must be escaped with a preceding '\\'"
    stack.append((_MDV2_OPEN[mark], i))
    return (_pre_body_start(text, i + 3) if mark == "```" else i + len(mark)), None


def _closes(text: str, i: int, top: str) -> bool:
    """Whether the markup at ``i`` ends the innermost entity ("__" opens an underline inside italic)."""
    return bool(top) and text.startswith(_MDV2_CLOSE[top], i) and not (top == "italic" and text.startswith("__", i))


def _close(text: str, i: int, kind: str) -> tuple[int, str | None]:
    """Past the markup at ``i`` ending an entity (a link's "](url)" included), or why it can't end."""
    i += len(_MDV2_CLOSE[kind])
    if kind not in ("text_url", "custom_emoji"):
        return i, None
    if url := _MDV2_URL.match(text, i):
        return url.end(), None
    if text.startswith("(", i):
        return i, f"can't find the end of the URL at character {i + 1}"
    if kind == "custom_emoji":
        return i, "a custom emoji must be followed by (tg://emoji?id=...)"
    return i, None


# --------------------------------------------------------------------------
# Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting
# --------------------------------------------------------------------------

_MD_TEXT = re.compile(r"(?:[^_*`\[\\]++|\\(?![_*`\[]))+")  # a run of text: no markup, no escape
_MD_ESCAPE = re.compile(r"\\([_*`\[])")


def _markdown(text: str) -> Parsed:
    out: list[str] = []
    i = 0
    while i < len(text):
        if plain := _MD_TEXT.match(text, i):
            out.append(plain[0])
            i = plain.end()
        elif escape := _MD_ESCAPE.match(text, i):
            out.append(escape[1])
            i += 2
        else:
            i, problem = _markdown_entity(text, i, out)
            if problem:
                return "".join(out), problem
    return "".join(out), None


def _markdown_entity(text: str, start: int, out: list[str]) -> tuple[int, str | None]:
    """Past the entity whose markup opens at ``start``, its text added to ``out``; or why it doesn't end."""
    mark = "```" if text.startswith("```", start) else text[start]
    body = _pre_body_start(text, start + 3) if mark == "```" else start + 1
    end = text.find("]" if mark == "[" else mark, body)
    if end < 0:
        out.append(text[body:])
        return len(text), (
            f"can't find the end of the entity opened by '{mark[0]}' at character {start + 1}; "
            "write a literal _ * ` or [ as \\_ \\* \\` \\["
        )
    out.append(text[body:end])
    after = end + (3 if mark == "```" else 1)
    if mark == "[" and text.startswith("(", after):
        close = text.find(")", after + 1)
        return (len(text) if close < 0 else close + 1), None
    return after, None


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------

_HTML_TAGS = tuple("a b strong i em u ins s strike del span tg-spoiler tg-emoji code pre blockquote".split())
_HTML_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot);|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)")
_HTML_TEXT = re.compile(r"[^&<]+")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAG = re.compile(r"<(/?+)([^ \t\r\n\v\f>]*+)(?:[^>\"']|\"[^\"]*+\"|'[^']*+')*+>")  # quoted values skipped


def _html(text: str) -> Parsed:
    out: list[str] = []
    stack: list[str] = []  # the open tags
    i = 0
    while i < len(text):
        entity = _HTML_ENTITY.match(text, i)
        if plain := _HTML_TEXT.match(text, i):
            out.append(plain[0])
            i = plain.end()
        elif entity and (char := _entity_char(entity)):
            out.append(char)
            i = entity.end()
        elif text[i] == "<":
            i, problem = _html_tag(text, i, stack)
            if problem:
                return "".join(out), problem
        else:  # an "&" that starts no entity
            out.append(text[i])
            i += 1
    if stack:
        return "".join(out), f"can't find the end tag for <{stack[-1]}>"
    return "".join(out), None


def _entity_char(entity: re.Match[str]) -> str | None:
    """The character an entity stands for; None for a code point Telegram refuses (the "&" is then text)."""
    name, dec, hexa = entity.groups()
    if name:
        return _HTML_NAMED[name]
    code = int(dec) if dec else int(hexa, 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else None


def _html_tag(text: str, start: int, stack: list[str]) -> tuple[int, str | None]:
    """Past the tag at ``start``, opened on or closed off ``stack``; or why Telegram refuses it."""
    if not (tag := _HTML_TAG.match(text, start)):
        return start, f"unclosed tag at character {start + 1}; write a literal < as &lt;"
    name, at = tag[2].lower(), start + 1
    if not tag[1]:  # a start tag
        if name in _HTML_TAGS:
            stack.append(name)
            return tag.end(), None
        shown = f"<{name}>" if name else "'<'"
        tags = ", ".join(_HTML_TAGS)
        return start, f"unsupported tag {shown} at character {at}; supported tags: {tags} (write a literal < as &lt;)"
    if not stack:
        return start, f"unexpected end tag </{name}> at character {at}"
    if name and name != stack[-1]:
        return start, f"unmatched end tag at character {at}: expected </{stack[-1]}>, found </{name}>"
    stack.pop()
    return tag.end(), None
