"""Reading the answer out of a reasoning VLM's reply (MiMo-Embodied, Qwen2.5-VL and their kin).

Such models think in ``<think>...</think>`` and answer after ``</think>``; some put the final
answer in ``\\boxed{...}``; pointing answers are JSON lists of points in the pixel frame of the
image *as the model saw it* (resized by Qwen2.5-VL's ``smart_resize``), which `rescale_points`
maps back to the original image.

Model output is data. Every function here that reads model text accepts any value, never
raises and does bounded work: at most `MAX_CHARS` characters are looked at, brace scanning is
linear, and at most `MAX_JSON_ATTEMPTS` failed and `MAX_JSON_VALUES` successful JSON decodes are made.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Point", "split_thinking", "extract_boxed", "extract_answer", "parse_points",
           "smart_resize", "rescale_points", "MAX_CHARS"]

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
BOXED = "\\boxed{"

# A real answer is a few kB; a reply of more than this is cut from the front (the answer is at the
# end), so a runaway generation cannot make reading it slow.
MAX_CHARS = 1_000_000
MAX_JSON_ATTEMPTS = 64      # failed decodes (each may read to the end of the text)
MAX_JSON_VALUES = 1024      # decoded values (each reads only its own span)
MAX_POINTS = 1024
_MAX_WALK_DEPTH = 6

_BRACE = re.compile(r"[{}]")
_JSON_START = re.compile(r"[\[{]")


def _as_text(value: Any) -> str:
    """Model output as a str, whatever it arrived as (bytes from a socket, None from a failed call)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, (bytes, bytearray, memoryview)):
        text = bytes(value[-MAX_CHARS * 4:]).decode("utf-8", errors="replace")
    elif value is None:
        return ""
    else:
        try:
            text = str(value)
        except Exception:  # noqa: BLE001 - a hostile __str__ is still just a bad answer
            return ""
    return text[-MAX_CHARS:] if len(text) > MAX_CHARS else text


def split_thinking(text: Any) -> tuple[str, str, bool]:
    """``(thinking, answer, closed)``.

    The answer is what follows the *last* ``</think>`` (a model may think twice). A ``<think>``
    that is never closed means the reply was cut off while thinking: there is no answer yet, so
    ``answer == ""`` and ``closed`` is False. Text without think tags is all answer.
    """
    text = _as_text(text)
    end = text.rfind(THINK_CLOSE)
    if end >= 0:
        before = text[:end]
        start = before.find(THINK_OPEN)
        # a template may open <think> in the prompt, so the reply can hold only the closing tag
        thinking = before[start + len(THINK_OPEN):] if start >= 0 else before
        return thinking.strip(), text[end + len(THINK_CLOSE):].strip(), True
    start = text.find(THINK_OPEN)
    if start >= 0:
        return text[start + len(THINK_OPEN):].strip(), "", False
    return "", text.strip(), True


def extract_boxed(text: Any) -> str | None:
    """The content of the last ``\\boxed{...}``, nested braces allowed; None when there is none or
    when its braces never balance (a truncated reply)."""
    text = _as_text(text)
    start = text.rfind(BOXED)
    if start < 0:
        return None
    body = start + len(BOXED)
    depth = 1
    for m in _BRACE.finditer(text, body):     # linear: one pass over the braces after the last \boxed{
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return text[body:m.start()].strip()
    return None


def extract_answer(text: Any) -> str:
    """The answer a reply gives: after the last ``</think>``; the content of its ``\\boxed{}`` if it
    has one; otherwise the answer text as it is (``emx.parse_plan`` tolerates fences and prose)."""
    _, answer, _ = split_thinking(text)
    boxed = extract_boxed(answer)
    return boxed if boxed is not None else answer


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str = ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError):       # an int too large for a float
        return None
    return number if math.isfinite(number) else None


def _xy(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        return None
    x, y = _number(value[0]), _number(value[1])
    return None if x is None or y is None else (x, y)


def _label(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _collect(value: Any, out: list[Point], depth: int) -> None:
    """Points of the forms the models write, found anywhere in a decoded JSON value:
    ``{"points": [[x, y], ...], "label": L}`` (MiMo-Embodied), ``{"point_2d": [x, y], "label": L}``
    (Qwen2.5-VL grounding) and ``{"point": [x, y], ...}``. Entries of any other shape are skipped."""
    if depth > _MAX_WALK_DEPTH or len(out) >= MAX_POINTS:
        return
    if isinstance(value, list):
        for item in value[:MAX_POINTS]:
            _collect(item, out, depth + 1)
        return
    if not isinstance(value, dict):
        return
    label = _label(value.get("label", ""))
    if "points" in value:
        pts = value["points"]
        single = _xy(pts)                     # "points": [x, y] — one point written flat
        if single is not None:
            out.append(Point(single[0], single[1], label))
        elif isinstance(pts, list):
            for p in pts[:MAX_POINTS - len(out)]:
                xy = _xy(p)
                if xy is not None:
                    out.append(Point(xy[0], xy[1], label))
        return
    for key in ("point_2d", "point"):
        if key in value:
            xy = _xy(value[key])
            if xy is not None:
                out.append(Point(xy[0], xy[1], label))
            return


def _json_values(text: str):
    """JSON values embedded in `text` (fences and prose around them are skipped), left to right.
    A failed decode may read to the end of the text, so at most MAX_JSON_ATTEMPTS may fail; a
    successful one reads only its own span, and at most MAX_JSON_VALUES are decoded."""
    decoder = json.JSONDecoder()
    pos, failures, values = 0, 0, 0
    while failures < MAX_JSON_ATTEMPTS and values < MAX_JSON_VALUES:
        m = _JSON_START.search(text, pos)
        if m is None:
            return
        try:
            value, end = decoder.raw_decode(text, m.start())
        except Exception:  # noqa: BLE001 - ValueError, RecursionError...: all just bad data
            failures += 1
            pos = m.start() + 1
            continue
        values += 1
        yield value
        pos = end


def parse_points(answer: Any) -> list[Point]:
    """Every point in a pointing answer, in the order written, in the model's (resized) pixel
    frame. Bad entries are skipped; an answer with no readable points gives ``[]``."""
    text = _as_text(answer)
    points: list[Point] = []
    try:
        for value in _json_values(text):
            _collect(value, points, 0)
            if len(points) >= MAX_POINTS:
                break
    except RecursionError:                    # a pathologically deep value: keep what was read
        pass
    return points[:MAX_POINTS]


def smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 56 * 56,
                 max_pixels: int = 14 * 14 * 4 * 1280) -> tuple[int, int]:
    """The (height, width) Qwen2.5-VL's image processor resizes an image to, as transformers'
    ``qwen2_vl.image_processing_qwen2_vl.smart_resize`` computes it: both sides multiples of
    `factor` (patch 14 x merge 2), the pixel count within [min_pixels, max_pixels], the aspect ratio
    kept as nearly as that allows. Python's round() (half to even) is part of the definition."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def rescale_points(points: Sequence[Point], resized_hw: tuple[int, int], original_hw: tuple[int, int]) -> list[Point]:
    """Points from the pixel frame of the image the model saw (`resized_hw`, e.g. from
    `smart_resize`) to the original image's pixels (`original_hw`); both are (height, width)."""
    rh, rw = resized_hw
    oh, ow = original_hw
    if rh <= 0 or rw <= 0:
        raise ValueError(f"resized size must be positive, got {resized_hw}")
    sx, sy = ow / rw, oh / rh
    return [Point(p.x * sx, p.y * sy, p.label) for p in points]
