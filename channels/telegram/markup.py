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


def visible_text(text: str, mode: str) -> tuple[str, str | None]:
    """(text after entity parsing, None) or (partial text, reason Telegram would reject it); ``mode`` is
    spelled as seed 002 spells it ("Default", "Markdown", "Html", "MarkdownV2")."""
    if mode == "MarkdownV2":
        return _markdown_v2(text)
    if mode == "Markdown":
        return _markdown(text)
    if mode == "Html":
        return _html(text)
    return text, None


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "bold (*)",
    "italic": "italic (_)",
    "underline": "underline (__)",
    "strikethrough": "strikethrough (~)",
    "spoiler": "spoiler (||)",
    "code": "code (`)",
    "pre": "pre (```)",
    "text_url": "link ([...](...))",
    "custom_emoji": "custom emoji (![...](tg://emoji?id=...))",
}


def _markdown_v2(text: str) -> tuple[str, str | None]:
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # (entity kind, position of its opening markup)
    n = len(text)
    i = 0

    def at(k: int) -> str:
        return text[k] if k < n else ""

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        line_start = i == 0 or text[i - 1] == "\n"
        if top not in ("code", "pre") and line_start:
            # Block quotation: ">" (or "**>" for an expandable one) at the start of a line.
            if c == ">":
                i += 1
                continue
            if text.startswith("**>", i):
                i += 3
                continue
        if top not in ("code", "pre") and text.startswith("||", i) and top != "spoiler":
            # "||" closing an expandable block quotation: at the end of a quoted line.
            line_begin = text.rfind("\n", 0, i) + 1
            if text.startswith((">", "**>"), line_begin) and at(i + 2) in ("", "\n"):
                i += 2
                continue
        reserved = "`" if top in ("code", "pre") else _MDV2_RESERVED
        if c not in reserved:
            out.append(c)
            i += 1
            continue

        ends = {
            "bold": c == "*",
            "italic": c == "_" and at(i + 1) != "_",
            "underline": c == "_" and at(i + 1) == "_",
            "strikethrough": c == "~",
            "spoiler": c == "|" and at(i + 1) == "|",
            "code": c == "`",
            "pre": text.startswith("```", i),
            "text_url": c == "]",
            "custom_emoji": c == "]",
        }
        if top is not None and ends[top]:
            kind, _ = stack.pop()
            if kind in ("underline", "spoiler"):
                i += 2
            elif kind == "pre":
                i += 3
            elif kind in ("text_url", "custom_emoji"):
                i += 1
                if at(i) == "(":
                    close = _url_end(text, i + 1)
                    if close < 0:
                        return "".join(out), f"can't find the end of the URL at character {i + 1}"
                    i = close + 1
                elif kind == "custom_emoji":
                    return "".join(out), "a custom emoji must be followed by (tg://emoji?id=...)"
            else:
                i += 1
            continue

        # Start of an entity.
        start = i
        if c == "_":
            kind, i = ("underline", i + 2) if at(i + 1) == "_" else ("italic", i + 1)
        elif c == "*":
            kind, i = "bold", i + 1
        elif c == "~":
            kind, i = "strikethrough", i + 1
        elif c == "|" and at(i + 1) == "|":
            kind, i = "spoiler", i + 2
        elif c == "[":
            kind, i = "text_url", i + 1
        elif c == "!" and at(i + 1) == "[":
            kind, i = "custom_emoji", i + 2
        elif c == "`":
            if text.startswith("```", i):
                kind, i = "pre", _pre_body_start(text, i + 3)
            else:
                kind, i = "code", i + 1
        else:
            return "".join(out), f"character '{c}' is reserved and must be escaped with a preceding '\\'"
        stack.append((kind, start))

    if stack:
        kind, start = stack[-1]
        return "".join(out), f"can't find the end of the {_MDV2_NAMES[kind]} entity opened at character {start + 1}"
    return "".join(out), None


def _url_end(text: str, i: int) -> int:
    """Index of the ")" closing a MarkdownV2 URL that starts at `i` (escapes skipped), or -1."""
    n = len(text)
    while i < n:
        if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            i += 2
            continue
        if text[i] == ")":
            return i
        i += 1
    return -1


def _pre_body_start(text: str, i: int) -> int:
    """Skip a pre block's language word and one line break after the opening ```."""
    n = len(text)
    end = i
    while end < n and text[end] not in SPACES and text[end] != "`":
        end += 1
    if end != i and end < n and text[end] != "`":
        i = end
    if i < n and text[i] in "\r\n":
        i += 2 if i + 1 < n and text[i + 1] in "\r\n" and text[i] != text[i + 1] else 1
    return i


def _markdown(text: str) -> tuple[str, str | None]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            i += 1
            continue
        start = i
        end_char = "]" if c == "[" else c
        i += 1
        is_pre = False
        if c == "`" and text.startswith("``", i):
            is_pre = True
            i = _pre_body_start(text, i + 2)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.append(text[i])
            i += 1
        if i >= n:
            return "".join(out), (
                f"can't find the end of the entity opened by '{c}' at character {start + 1}; "
                "write a literal _ * ` or [ as \\_ \\* \\` \\["
            )
        if c == "[" and i + 1 < n and text[i + 1] == "(":
            close = text.find(")", i + 2)
            i = n - 1 if close < 0 else close
        elif is_pre:
            i += 2
        i += 1
    return "".join(out), None


_HTML_TAGS = (
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
)
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot);|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: re.Match[str]) -> str | None:
    name, dec, hexa = match.groups()
    if name:
        return _HTML_NAMED[name]
    code = int(dec) if dec else int(hexa, 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def _html(text: str) -> tuple[str, str | None]:
    out: list[str] = []
    stack: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            decoded = _html_entity(match) if match else None
            if decoded is not None:
                out.append(decoded)
                i = match.end()
                continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        start = i
        closing = text.startswith("</", i)
        i += 2 if closing else 1
        name_end = i
        while name_end < n and text[name_end] not in SPACES and text[name_end] != ">":
            name_end += 1
        name = text[i:name_end].lower()
        close = _tag_end(text, name_end)
        if close < 0:
            return "".join(out), f"unclosed tag at character {start + 1}; write a literal < as &lt;"
        if closing:
            if not stack:
                return "".join(out), f"unexpected end tag </{name}> at character {start + 1}"
            if name and name != stack[-1]:
                return "".join(out), (
                    f"unmatched end tag at character {start + 1}: expected </{stack[-1]}>, found </{name}>"
                )
            stack.pop()
        else:
            if name not in _HTML_TAGS:
                shown = f"<{name}>" if name else "'<'"
                return "".join(out), (
                    f"unsupported tag {shown} at character {start + 1}; supported tags: "
                    + ", ".join(_HTML_TAGS)
                    + " (write a literal < as &lt;)"
                )
            stack.append(name)
        i = close + 1
    if stack:
        return "".join(out), f"can't find the end tag for <{stack[-1]}>"
    return "".join(out), None


def _tag_end(text: str, i: int) -> int:
    """Index of the ">" ending a tag whose attributes start at `i` (quoted values skipped), or -1."""
    n = len(text)
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == ">":
            return i
        i += 1
    return -1
