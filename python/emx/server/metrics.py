"""A small thread-safe metrics registry that writes the Prometheus text format (0.0.4).

Self-contained on purpose: the reward server needs four metric kinds and no
global state, so two servers in one process (tests) never share counters.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Request latencies of a symbolic reward server: sub-millisecond to the per-request timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    v = float(v)
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name}: labels {sorted(labels)} != {sorted(self.label_names)}")
        return tuple(str(labels[n]) for n in self.label_names)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, *a, **k) -> None:
        super().__init__(*a, **k)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items]


class Gauge(_Metric):
    """A gauge set directly, or read from a callback at scrape time."""

    kind = "gauge"

    def __init__(self, *a, fn: Callable[[], Iterable[tuple[dict[str, str], float]] | float] | None = None, **k) -> None:
        super().__init__(*a, **k)
        self._values: dict[tuple[str, ...], float] = {}
        self._fn = fn

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def render(self) -> list[str]:
        if self._fn is not None:
            got = self._fn()
            pairs = [({}, float(got))] if isinstance(got, (int, float)) else [(lab, float(v)) for lab, v in got]
            items = sorted((self._key(lab), v) for lab, v in pairs)
        else:
            with self._lock:
                items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(self.label_names, k)} {_num(v)}" for k, v in items]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, *a, buckets: Sequence[float] = LATENCY_BUCKETS, **k) -> None:
        super().__init__(*a, **k)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., count, sum

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            s = self._series.setdefault(key, [0.0] * (len(self.buckets) + 2))
            for i, b in enumerate(self.buckets):
                if value <= b:
                    s[i] += 1
            s[-2] += 1
            s[-1] += value

    def count(self, **labels: str) -> float:
        with self._lock:
            s = self._series.get(self._key(labels))
            return s[-2] if s else 0.0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        lines = self.header()
        for key, s in items:
            for b, c in zip(self.buckets, s):
                le = 'le="' + _num(b) + '"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {_num(c)}")
            le = 'le="+Inf"'
            lines.append(f"{self.name}_bucket{_labels(self.label_names, key, le)} {_num(s[-2])}")
            lines.append(f"{self.name}_count{_labels(self.label_names, key)} {_num(s[-2])}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, key)} {_num(s[-1])}")
        return lines


class Registry:
    def __init__(self) -> None:
        self._metrics: list[_Metric] = []

    def _add(self, m):
        if any(x.name == m.name for x in self._metrics):
            raise ValueError(f"metric {m.name} registered twice")
        self._metrics.append(m)
        return m

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self._add(Counter(name, help_text, labels))

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = (), fn=None) -> Gauge:
        return self._add(Gauge(name, help_text, labels, fn=fn))

    def histogram(self, name: str, help_text: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = LATENCY_BUCKETS) -> Histogram:
        return self._add(Histogram(name, help_text, labels, buckets=buckets))

    def render(self) -> str:
        lines: list[str] = []
        for m in self._metrics:
            lines += m.render()
        return "\n".join(lines) + "\n"
