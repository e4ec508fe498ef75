"""cxlib.run.results: what one notebook of a run computes, the next loads, only with the same settings."""

from __future__ import annotations

from cxlib.run import results


def test_a_result_is_computed_once_and_loaded_with_the_same_settings_only(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"value": len(calls)}

    first = results.Results(str(tmp_path), data="d", window_days=90)
    assert first.get("churn model", compute) == {"value": 1} and first.computed == ["churn model"]
    again = results.Results(str(tmp_path), data="d", window_days=90.0)  # the same setting, written otherwise
    assert again.get("churn model", compute) == {"value": 1} and again.loaded == ["churn model"]
    other = results.Results(str(tmp_path), data="d", window_days=30)
    assert other.get("churn model", compute) == {"value": 2}, "other settings: computed again"
    assert results.load(tmp_path, "churn model", key={"data": "d", "window_days": 30}) == {"value": 2}
    assert results.load(tmp_path, "roi", key={}) is None
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_an_empty_results_dir_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []
    kept = results.Results("", data="d")
    kept.get("claims", lambda: calls.append(1) or "x")
    kept.get("claims", lambda: calls.append(1) or "x")
    assert len(calls) == 2 and results.save("", "claims", "x") is None
    assert not list(tmp_path.iterdir())


def test_once_computes_on_the_first_call_only_and_not_at_all_if_never_called():
    calls = []
    value = results.once(lambda: calls.append(1) or "prepared")
    assert calls == [], "nothing is computed before it is asked for"
    assert value() == "prepared" and value() == "prepared"
    assert calls == [1], "and then once"
