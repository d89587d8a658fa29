"""The same-work rollout benchmark compares identical work: the engine, the EmboMatrix-style
gateway (one POST per plan) and emx serve's batched /v1/evaluate give the same reward for every
plan. Speed is not asserted here (bench/RESULTS.md holds the figures)."""

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def test_engine_gateway_and_batched_http_agree_on_every_plan():
    from emx.bench.rollout import _same_work

    out = _same_work(120, 2, None)
    assert out["plans"] == 120 and out["rewards_agree"] is True
    for name in ("engine", "gateway", "batched_http"):
        assert out[name]["plans_per_s"] > 0
