"""Investments as data: what a service or an experience scenario changes, and what it costs a year.

:func:`load_scenarios` reads them from a YAML file (default: ``cxlib/analyses/scenarios/default.yaml``),
YAML text, a dict or a list, and checks them; :class:`Scenario` is one investment.
:func:`scenario_rates` is what one does to the measured rates of a draw, and
:func:`not_estimable_terms` the model terms its value rests on;
:func:`cxlib.analyses.roi.evaluate` values them (:func:`check_fitted`: with a fitted churn model of the
same window). Shares are 0–1; costs are yearly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxlib.config import DEFAULT_SCENARIOS
from cxlib.exceptions import DataError, NotFittedError
from cxlib.features.roi_inputs import resolution_after_cut

__all__ = ["ALL_TOUCHPOINTS", "CHANGES", "KINDS", "Scenario", "check_fitted", "check_touchpoints", "load_scenarios",
           "not_estimable_terms", "scenario_rates", "scenarios_and_currency"]

KINDS = ("service", "experience")
#: What each kind of investment may change.
CHANGES = {
    "service": ("resolution_rate", "contact_share", "first_response_cut"),
    "experience": ("touchpoint", "bad_rate_cut"),
}
ALL_TOUCHPOINTS = "all"


@dataclass(frozen=True)
class Scenario:
    """One investment: what it changes, by how much, and what it costs a year.

    ``change`` holds, for ``kind="service"``, any of ``resolution_rate`` (target share of
    contacts after a bad experience that resolve it), ``contact_share`` (target share of bad
    experiences followed by a contact) and ``first_response_cut`` (share by which first
    response times are cut); for ``kind="experience"``, ``touchpoint`` (a touchpoint of the
    data or ``"all"``) and ``bad_rate_cut`` (share by which its bad rate is cut).
    """

    name: str
    kind: str
    change: dict
    yearly_cost: float = 0.0
    description: str = ""

    def __post_init__(self):
        if not str(self.name).strip():
            raise ValueError("a scenario needs a name")
        if self.kind not in KINDS:
            raise ValueError(f"scenario {self.name!r}: kind must be one of {KINDS}, not {self.kind!r}")
        change = dict(self.change or {})
        unknown = set(change) - set(CHANGES[self.kind])
        if unknown:
            raise ValueError(
                f"scenario {self.name!r}: a {self.kind} scenario cannot change {sorted(unknown)}; "
                f"it changes {', '.join(CHANGES[self.kind])}"
            )
        if not change:
            raise ValueError(f"scenario {self.name!r}: nothing to change; give one of {', '.join(CHANGES[self.kind])}")
        if self.kind == "experience":
            if "bad_rate_cut" not in change:
                raise ValueError(f"scenario {self.name!r}: an experience scenario needs bad_rate_cut (a share, 0–1)")
            change.setdefault("touchpoint", ALL_TOUCHPOINTS)
            change["touchpoint"] = str(change["touchpoint"]).strip().lower()
        for key in ("resolution_rate", "contact_share", "first_response_cut", "bad_rate_cut"):
            if key in change:
                value = float(change[key])
                if not 0.0 <= value <= 1.0:
                    raise ValueError(f"scenario {self.name!r}: {key} must be a share between 0 and 1, not {change[key]!r}")
                change[key] = value
        cost = float(self.yearly_cost)
        if not cost >= 0 or not math.isfinite(cost):
            raise ValueError(f"scenario {self.name!r}: yearly_cost must be a number >= 0, not {self.yearly_cost!r}")
        object.__setattr__(self, "change", change)
        object.__setattr__(self, "yearly_cost", cost)
        object.__setattr__(self, "name", str(self.name).strip())

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "change": dict(self.change),
                "yearly_cost": self.yearly_cost, "description": self.description}


def load_scenarios(spec=None) -> tuple[list[Scenario], str]:
    """Scenarios and currency from a YAML file, YAML text, a dict or a list; ``None``/"" the default file.

    The structure (file or notebook parameter)::

        currency: EUR
        scenarios:
          - {name: Resolve more contacts, kind: service, change: {resolution_rate: 0.9}, yearly_cost: 60000}
          - {name: Fix delivery, kind: experience, change: {touchpoint: delivery, bad_rate_cut: 0.5}, yearly_cost: 60000}

    A bare list of scenarios is accepted too (currency then ``EUR``).
    """
    from cxlib.data.yamlfile import parse_yaml, read_yaml

    source = "scenarios"
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        spec = DEFAULT_SCENARIOS
    is_text = isinstance(spec, str) and ("\n" in spec or spec.lstrip().startswith(("{", "[", "scenarios:")))
    if isinstance(spec, (str, Path)) and not is_text:
        path = Path(spec)
        if not path.exists():
            raise DataError("no such scenario file", file=path)
        source = str(path)
        try:
            spec = read_yaml(path, what="the scenario file")
        except ValueError as exc:
            raise DataError(str(exc), file=path) from None
    elif isinstance(spec, str):
        spec = parse_yaml(spec, what="the scenarios")
    if isinstance(spec, list):
        spec = {"scenarios": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("scenarios"), list) or not spec["scenarios"]:
        raise DataError("expected a mapping with a non-empty list 'scenarios'", file=source)
    scenarios = []
    for i, item in enumerate(spec["scenarios"], start=1):
        if not isinstance(item, dict):
            raise DataError(f"scenario {i} is not a mapping", file=source)
        unknown = set(item) - {"name", "kind", "change", "yearly_cost", "description"}
        if unknown:
            raise DataError(f"scenario {i}: unknown keys {sorted(unknown)}", file=source)
        try:
            scenarios.append(
                Scenario(
                    name=item.get("name", ""),
                    kind=item.get("kind", ""),
                    change=item.get("change") or {},
                    yearly_cost=item.get("yearly_cost", 0.0),
                    description=item.get("description", "") or "",
                )
            )
        except (TypeError, ValueError) as exc:
            raise DataError(f"scenario {i}: {exc}", file=source) from exc
    names = [s.name for s in scenarios]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"scenario names must be unique: {duplicated}", file=source)
    return scenarios, str(spec.get("currency", "EUR"))



# ---------------------------------------------------------------------------------------
# Evaluation


def scenarios_and_currency(scenarios, currency: str | None) -> tuple[list[Scenario], str]:
    if isinstance(scenarios, list) and scenarios and all(isinstance(s, Scenario) for s in scenarios):
        scenario_list, file_currency = list(scenarios), "EUR"
    else:
        scenario_list, file_currency = load_scenarios(scenarios)
    return scenario_list, currency or file_currency


def check_touchpoints(scenarios: list[Scenario], touchpoints: list[str]) -> None:
    """A clear error for an experience scenario whose touchpoint the data do not have."""
    known = list(touchpoints)
    for sc in scenarios:
        tp = sc.change.get("touchpoint")
        if sc.kind == "experience" and tp != ALL_TOUCHPOINTS and tp not in known:
            raise ValueError(
                f"scenario {sc.name!r}: unknown touchpoint {tp!r}; the data's touchpoints are: {', '.join(known)} "
                f"(or {ALL_TOUCHPOINTS!r})"
            )


def scenario_rates(sc: Scenario, measured, lam_tp_early, lam_tp_settled, c, r, link_slope,
                     per_touchpoint: bool = False):
    """(λ_early, λ_settled, q) after the scenario, for one draw of the measured rates.

    ``per_touchpoint``: also the settled rate of each touchpoint after it (a fourth item),
    which weighs per-touchpoint effects (:meth:`cxlib.models.roi_engine.Engine.pooled_log_hrs`).
    """
    tps = measured.touchpoints
    early, settled = lam_tp_early.copy(), lam_tp_settled.copy()
    ch = sc.change
    if sc.kind == "experience":
        keep = 1.0 - ch["bad_rate_cut"]
        if ch["touchpoint"] == ALL_TOUCHPOINTS:
            early, settled = early * keep, settled * keep
        else:
            i = tps.index(ch["touchpoint"])
            early[i] *= keep
            settled[i] *= keep
    else:
        if "contact_share" in ch:
            c = ch["contact_share"]
        if "resolution_rate" in ch:
            r = ch["resolution_rate"]
        if "first_response_cut" in ch:
            r = float(np.clip(r + resolution_after_cut(measured.first_response, ch["first_response_cut"], link_slope), 0, 1))
    out = (float(early.sum()), float(settled.sum()), float(np.clip(c * r, 0.0, 1.0)))
    return (*out, settled) if per_touchpoint else out


def not_estimable_terms(sc: Scenario, model, resolved_share: float) -> list[str]:
    """The terms a scenario's value rests on that the churn model could not estimate (``not_estimable_``).

    A scenario's value rests on the hazard ratios of the bad experiences it moves: a service
    scenario turns unresolved ones into resolved ones (both ratios); an experience scenario
    removes bad experiences, unresolved and, where some get resolved, resolved ones. A level
    without churn events (a segment, tenure or engagement band) only shifts the baseline of
    its customers: :func:`cxlib.analyses.roi.evaluate` notes it rather than giving up the scenario.
    """
    missing = getattr(model, "not_estimable_", None) or {}
    kinds = ("unresolved", "resolved") if sc.kind == "service" or resolved_share > 0 else ("unresolved",)
    return [t for t in missing if t.partition("[")[0] in kinds]


def check_fitted(model, *, window_days: int, resolution_days: int, caller: str) -> None:
    """A clear error unless ``model`` is a fitted churn model with these window and resolution days."""
    if model is None:
        raise TypeError(
            f"{caller} needs model=: a fitted ChurnModel (ChurnModel(window_days=..., resolution_days=...)"
            ".fit(data, as_of=...)); an analysis never fits one itself"
        )
    if not hasattr(model, "params_") or not hasattr(model, "count_term"):
        raise NotFittedError(f"{caller}: the churn model is not fitted yet: call fit(data, as_of=...) first")
    if (int(model.window_days), int(model.resolution_days)) != (int(window_days), int(resolution_days)):
        raise ValueError(
            f"{caller}: the churn model was fitted with other window_days or resolution_days "
            f"({model.window_days}, {model.resolution_days}) than asked ({window_days}, {resolution_days})"
        )
