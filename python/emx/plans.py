"""Parse household-robot plans written by language models into `Plan` values.

Two plan formats exist: EAI BEHAVIOR's JSON list of ``{"action", "object"}`` items, and
EmboMatrix's native ``json: {"action_sequence": [...], "task_status_summary": ...}``.

Model output is untrusted data, so it is read only with `json` and small hand-written scanners
whose work is bounded (the EmboMatrix release ``eval``s the text between brackets; we do not).
`parse_plan` never raises for any input and runs in bounded time: whatever goes wrong becomes a
format failure, ``Plan(format="none", error=REASON)``, which the reward turns into a penalty.

What is tolerated, because real models write it: ``<think>...</think>`` reasoning, markdown fences,
prose around the JSON, and the Python-dict style of the EAI prompt's own examples (single quotes,
``# comments``, trailing commas, True/False/None). Unknown action names, hallucinated objects and
wrong argument counts are *not* format failures: the executor reports them at their step.

An unclosed ``<think>`` (no ``</think>`` anywhere) is accepted if a valid plan can still be found
in the text; only when none is found is the reason "unterminated <think> block".
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["PlanAction", "Plan", "parse_plan", "plan_to_text", "json_values",
           "MAX_CHARS", "MAX_DEPTH", "MAX_ACTIONS"]

MAX_CHARS = 200_000
MAX_DEPTH = 32
MAX_ACTIONS = 512
_MAX_CANDIDATES = 64
# Total characters the Python-level scanner may walk per call; one full-length plan fits, while
# adversarial text with many unclosed brackets cannot make a call take seconds.
_SCAN_BUDGET = 1_000_000
_FORMATS = ("auto", "eai", "native")


@dataclass(frozen=True)
class PlanAction:
    name: str
    args: tuple[str, ...] = ()
    params: Mapping[str, Any] | None = None

    def __hash__(self) -> int:
        # params is a mapping (unhashable by default); its values are JSON scalars, so hash items.
        items = None if self.params is None else tuple(sorted(self.params.items()))
        return hash((self.name, self.args, items))


@dataclass(frozen=True)
class Plan:
    format: str
    actions: tuple[PlanAction, ...]
    error: str | None = None
    summary: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.format != "none"


def _fail(reason: str) -> Plan:
    return Plan(format="none", actions=(), error=reason)


def _tn(value: Any) -> str:
    return type(value).__name__


# One token of JSON or of Python-literal-ish text. The string alternatives cannot backtrack
# (their branches start with disjoint characters), so matching is linear in the text length.
_TOKEN = re.compile(r"""
    (?P<dq>"(?:[^"\\]+|\\.)*(?P<dqe>")?)
  | (?P<sq>'(?:[^'\\]+|\\.)*(?P<sqe>')?)
  | (?P<comment>\#[^\n]*)
  | (?P<open>[\[{])
  | (?P<close>[\]}])
  | (?P<comma>,)
  | (?P<const>\b(?:True|False|None)\b)
  | (?P<other>[^"'\#\[\]{},TFN]+|.)
""", re.X | re.S)
_CONSTS = {"True": "true", "False": "false", "None": "null"}
_START = re.compile(r"[\[{]")


def _sq_to_json(tok: str) -> str:
    """Rewrite a Python single-quoted string token as a JSON string (escapes kept as JSON ones)."""
    out, i, body = [], 0, tok[1:-1]
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append("'" if nxt == "'" else c + nxt)
            i += 2
            continue
        out.append('\\"' if c == '"' else c)
        i += 1
    return '"' + "".join(out) + '"'


def _scan(text: str, start: int, budget: int) -> tuple[int, str | None, str]:
    """Find the end of the bracketed value at `start`, building a relaxed-JSON rewrite as we go.

    Returns (end, rewrite, problem): problem is "" on success, else "deep", "unterminated" or
    "budget". Depth is checked here, before any json call, so json can never recurse deeply.
    """
    out: list[str] = []
    depth, last_comma, changed = 0, -1, False
    stop = min(len(text), start + budget)
    for m in _TOKEN.finditer(text, start, stop):
        kind, tok = m.lastgroup, m.group()
        if kind == "dq" or kind == "sq":
            if m.group(kind + "e") is None:
                return m.end(), None, "unterminated"
            if kind == "sq":
                tok, changed = _sq_to_json(tok), True
            last_comma = -1
        elif kind == "comment":
            changed = True
            continue
        elif kind == "open":
            depth += 1
            if depth > MAX_DEPTH:
                return m.end(), None, "deep"
            last_comma = -1
        elif kind == "close":
            if last_comma >= 0:  # trailing comma before a closing bracket
                out[last_comma], changed = "", True
            depth -= 1
            last_comma = -1
            if depth <= 0:
                out.append(tok)
                return m.end(), ("".join(out) if changed else None), ""
        elif kind == "comma":
            last_comma = len(out)
        elif kind == "const":
            tok, changed = _CONSTS[tok], True
            last_comma = -1
        elif not tok.isspace():
            last_comma = -1
        out.append(tok)
    return stop, None, ("budget" if stop < len(text) else "unterminated")


def _decode(raw: str, relaxed: str | None) -> tuple[Any, str]:
    """Strict JSON first; the relaxed rewrite only when strict fails. Returns (value, error)."""
    try:
        return json.loads(raw), ""
    except (ValueError, RecursionError) as e:
        err = str(e)
    if relaxed is not None:
        try:
            return json.JSONDecoder(strict=False).decode(relaxed), ""
        except (ValueError, RecursionError) as e:
            err = str(e)
    return None, err


def _eai(items: Any) -> Plan:
    if len(items) > MAX_ACTIONS:
        return _fail(f"too many actions: {len(items)} (limit {MAX_ACTIONS})")
    actions = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            return _fail(f"item {i}: expected an object, got {_tn(item)}")
        for field in ("action", "object"):
            if field not in item:
                return _fail(f'item {i}: missing "{field}"')
            if not isinstance(item[field], str):
                return _fail(f'item {i}: "{field}" must be a string, got {_tn(item[field])}')
        obj: str = item["object"]
        args = tuple(a.strip() for a in obj.split(",")) if obj.strip() else ()
        actions.append(PlanAction(item["action"].strip().upper(), args))
    return Plan("eai", tuple(actions))


def _native(doc: dict) -> Plan:
    seq = doc["action_sequence"]
    if not isinstance(seq, (list, tuple)):
        return _fail(f'"action_sequence" must be a list, got {_tn(seq)}')
    if len(seq) > MAX_ACTIONS:
        return _fail(f"too many actions: {len(seq)} (limit {MAX_ACTIONS})")
    actions = []
    for i, item in enumerate(seq):
        if not isinstance(item, dict):
            return _fail(f"item {i}: expected an object, got {_tn(item)}")
        if "action" not in item:
            return _fail(f'item {i}: missing "action"')
        if not isinstance(item["action"], str):
            return _fail(f'item {i}: "action" must be a string, got {_tn(item["action"])}')
        params = item.get("parameters", {})
        if not isinstance(params, dict):
            return _fail(f'item {i}: "parameters" must be an object, got {_tn(params)}')
        for k, v in params.items():
            if not isinstance(k, str):
                return _fail(f"item {i}: parameter names must be strings, got {_tn(k)}")
            if not (v is None or isinstance(v, (str, int, float))):
                return _fail(f'item {i}: parameter "{k}" must be a JSON scalar, got {_tn(v)}')
            if isinstance(v, float) and not math.isfinite(v):
                return _fail(f'item {i}: parameter "{k}" must be a finite number, got {v}')
        # A read-only copy: a frozen Plan should not change under the caller's feet.
        actions.append(PlanAction(item["action"].strip().lower(), (),
                                  MappingProxyType(dict(params))))
    summary = doc.get("task_status_summary")
    # The summary is commentary, not plan: a non-string one is dropped rather than failed.
    return Plan("native", tuple(actions), None, summary if isinstance(summary, str) else None)


def _from_data(value: Any, fmt: str) -> Plan:
    if isinstance(value, (list, tuple)):
        if fmt == "native":
            return _fail('expected a native plan (object with "action_sequence"), found a list')
        return _eai(value)
    if isinstance(value, dict):
        if "action_sequence" in value:
            if fmt == "eai":
                return _fail('expected an EAI action list, found a native plan '
                             '(object with "action_sequence")')
            return _native(value)
        if "action" in value:
            return _fail('found a single action object; expected a list of actions (EAI) '
                         'or an object with "action_sequence" (native)')
        return _fail('found a JSON object without "action_sequence"')
    return _fail(f'expected a list of actions or an object with "action_sequence", '
                 f'found {_tn(value)}')


def _plan_shaped(value: Any) -> bool:
    """Whether a decoded value was evidently meant as a plan, so its error is worth reporting."""
    if isinstance(value, list):
        return any(isinstance(v, dict) for v in value)
    return isinstance(value, dict) and "action_sequence" in value


def _candidates(text: str, limit: int):
    """``(start, end, value, problem, error)`` for each bracketed value of `text`, left to right,
    under one scan budget: ``problem`` is the scanner's ("deep", or another syntax problem),
    ``error`` the decoder's; both empty means ``value`` decoded. After a decoded value the scan
    resumes at its end (values nested inside it are its parts), after a failure one character on."""
    pos, budget = 0, _SCAN_BUDGET
    for _ in range(limit):
        m = _START.search(text, pos)
        if m is None or budget <= 0:
            return
        p = m.start()
        end, relaxed, problem = _scan(text, p, budget)
        budget -= end - p
        if problem:
            yield p, end, None, problem, ""
            pos = p + 1
            continue
        value, err = _decode(text[p:end], relaxed)
        yield p, end, value, "", err
        pos = p + 1 if err else end


def json_values(text: str, limit: int = 64):
    """The bracketed JSON values embedded in `text` (also EAI's Python-style dicts), left to right,
    outermost only, through the same bounded scanner the plan parser uses; values that do not
    decode are skipped. For other answer formats built on plans (hierarchical, next sub-task)."""
    for _, _, value, problem, err in _candidates(text, limit):
        if not problem and not err:
            yield value


def _parse_text(text: str, fmt: str) -> Plan:
    if len(text) > MAX_CHARS:
        return _fail(f"output too long: {len(text)} characters (limit {MAX_CHARS})")
    if not text.strip():
        return _fail("empty output")
    cut = text.rfind("</think>")
    if cut >= 0:
        text = text[cut + len("</think>"):]
        if not text.strip():
            return _fail("empty output after </think>")
    unclosed_think = "<think>" in text  # only decides the reason if no plan is found

    empty_ok: Plan | None = None        # an empty list in prose must not beat a real plan
    best: tuple[int, str] | None = None  # (span, error) of the largest plan-shaped candidate
    too_deep, lone_action, first_syntax = False, False, ""
    for p, end, value, problem, err in _candidates(text, _MAX_CANDIDATES):
        if problem:
            too_deep |= problem == "deep"
            if problem != "deep":
                first_syntax = first_syntax or f"unterminated value at character {p}"
            continue
        if err:
            first_syntax = first_syntax or f"at character {p}: {err}"
            continue
        plan = _from_data(value, fmt)
        if plan.ok:
            if plan.actions:
                return plan
            empty_ok = empty_ok or plan
        elif _plan_shaped(value) and (best is None or end - p > best[0]):
            best = (end - p, plan.error or "")
        elif isinstance(value, dict) and "action" in value and not first_syntax:
            lone_action = True  # not when it is an item of an earlier, truncated list
    # A broken plan beats an empty list met in prose: rewarding "[]" there would hide the failure.
    if best is not None:
        return _fail(best[1])
    if empty_ok is not None:
        return empty_ok
    if too_deep:
        return _fail(f"nesting deeper than {MAX_DEPTH} levels")
    if unclosed_think:
        return _fail("unterminated <think> block")
    if lone_action:
        return _fail('found a single action object; expected a list of actions (EAI) '
                     'or an object with "action_sequence" (native)')
    return _fail("no JSON plan found" + (f" ({first_syntax})" if first_syntax else ""))


def parse_plan(text: Any, fmt: str = "auto") -> Plan:
    """Parse model output (str/bytes) or an already-parsed plan (list/dict/Plan) into a `Plan`.

    fmt: "auto" (a list is EAI, an object with "action_sequence" is native), "eai" or "native".
    Never raises for any `text`; an unknown `fmt` is a caller bug and raises ValueError.
    """
    if fmt not in _FORMATS:
        raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")
    try:
        if isinstance(text, Plan):
            if fmt == "auto" or text.format == fmt or not text.ok:
                return text
            return _fail(f"expected a {fmt} plan, found a {text.format} plan")
        if isinstance(text, (bytes, bytearray, memoryview)):
            text = bytes(text).decode("utf-8", errors="replace")
        if isinstance(text, str):
            return _parse_text(text, fmt)
        if isinstance(text, (list, tuple, dict)):
            return _from_data(text, fmt)
        return _fail(f"expected text, got {_tn(text)}")
    except Exception as e:  # the last line of the never-raises contract; should be unreachable
        return _fail(f"unparseable output ({type(e).__name__})")


def plan_to_text(plan: Plan) -> str:
    """The canonical text a model should have written for `plan` (which must be ok)."""
    if not plan.ok:
        raise ValueError(f"cannot render a format failure: {plan.error}")
    if plan.format == "eai":
        text = json.dumps([{"action": a.name, "object": ",".join(a.args)} for a in plan.actions],
                          ensure_ascii=False)
    else:
        doc: dict[str, Any] = {"action_sequence": [
            {"action": a.name, "parameters": dict(a.params or {})} for a in plan.actions]}
        if plan.summary is not None:
            doc["task_status_summary"] = plan.summary
        text = "json: " + json.dumps(doc, ensure_ascii=False)
    # "</think>" can only occur inside a string here; JSON's "\/" escape keeps the parser from
    # mistaking it for the end of reasoning.
    return text.replace("</think>", "<\\/think>")
