"""`emx bench datagen` returns the benchmark contract's object."""

from emx.bench.datagen import format_table, run


def test_bench_datagen_quick():
    result = run(quick=True)
    assert result["bench"] == "datagen" and result["machine"]["cores"] >= 1
    names = {r["name"] for r in result["results"]}
    assert {"offline-generate", "offline-generate-no-layout", "scenes-build-settle", "agents-scripted",
            "agents-from-cache"} <= names
    assert set(result["ratios"]) == {"offline_vs_target", "cached_vs_uncached_agents"}
    by = {r["name"]: r for r in result["results"]}
    assert by["offline-generate"]["n"] == 200 and by["scenes-build-settle"]["ok"] == by["scenes-build-settle"]["n"]
    assert by["agents-from-cache"]["prompts"] == 0
    assert all(isinstance(v, str) for _k, v in format_table(result))
