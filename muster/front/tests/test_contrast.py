"""Every rule of the stylesheet that sets both a text colour and a solid background meets WCAG AA (4.5:1)."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "static" / "muster.css"
HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def solid(value: str, variables: dict[str, str]) -> str | None:
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables.get(m.group(1), m.group(0)), value)
    found = HEX.fullmatch(value.replace("!important", "").strip())
    return found.group(0) if found else None


def pairs() -> list[tuple[str, str, str]]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    variables = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", text))
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declared: dict[str, str] = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                declared[name.strip()] = value.strip()
        fg = solid(declared.get("color", ""), variables)
        bg = solid(declared.get("background", declared.get("background-color", "")), variables)
        if fg and bg:
            found.append((selector.strip(), fg, bg))
    return found


def test_text_on_a_background_meets_wcag_aa() -> None:
    checked = pairs()
    assert len(checked) >= 8, checked  # badges, messages, primary buttons, the checklist's ticks…
    poor = [(s, fg, bg, round(contrast(fg, bg), 2)) for s, fg, bg in checked if contrast(fg, bg) < 4.5]
    assert not poor, poor


def test_text_colours_meet_wcag_aa_on_the_page_and_card_backgrounds() -> None:
    # A rule that sets a colour without a background shows its text on the page (--bg) or on a
    # card, a table or a form (--card, #fbfcfd for table heads): it must be readable on each.
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    variables = dict(re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", text))
    grounds = [variables["--bg"], variables["--card"], "#fbfcfd"]
    poor = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declared = dict(
            (name.strip(), value.strip()) for name, value in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        if "background" in declared or "background-color" in declared:
            continue
        fg = solid(declared.get("color", ""), variables)
        if fg:
            poor += [(selector.strip(), fg, bg) for bg in grounds if contrast(fg, bg) < 4.5]
    assert not poor, poor
