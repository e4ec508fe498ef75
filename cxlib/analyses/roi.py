"""ROI of service against experience: what an investment is worth in revenue retained.

The question: with the next budget, is it worth more to fix problems after they happen
(customer *service*: resolve more of the contacts, get more of the unhappy customers to
contact, answer faster) or to stop them happening (customer *experience*: cut the bad rate of
a touchpoint)? :func:`evaluate` answers in money, with intervals, for the **current customer
base** (the customers active at ``as_of``) over a horizon (12 months by default).

Scenarios are data (:func:`load_scenarios`): a YAML file, or the same structure as a dict,
listing investments with a name, a kind, what they change and a yearly cost. The default file
is ``cxlib/analyses/scenarios/default.yaml``.

Method: the closed form of :mod:`cxlib.models.roi_engine` (expected hazard per customer from
Poisson thinning of the future bad experiences, the known ones read from the data by
:mod:`cxlib.features.roi_inputs`; expected survival ``exp(-∫E[h])``; expected months retained
over the horizon, valued at ``monthly_value``). It has no simulation noise, so a scenario that
changes nothing retains exactly 0 and every draw of the uncertainty is one cheap pass. With a
model adjusted for engagement each customer's engagement class has its own baseline and rate
of bad experiences (heavy users meet more of them and churn less; see the engine's docstring).

Units: the horizon is in **months** (``horizon_months``; a month is :data:`MONTH_DAYS` days)
in every function here and in :mod:`cxlib.analyses.cost`; windows, delays and rates of the
data are in days. The analysis date is the keyword-only ``as_of``. An analysis takes a fitted
:class:`~cxlib.models.churn.ChurnModel` (``model=``) and never fits one. Numbers only: the
tables and words are in :mod:`cxlib.present.roi`.

A scenario changes only the future: ``λ`` of a touchpoint is cut by a share (an experience
investment, which also removes the contacts those bad experiences would have caused); the
contact share or the resolution rate moves to a target, so ``q`` changes (a service
investment). Bad experiences of the last ``resolution_days`` days still unresolved at
``as_of`` are counted as unresolved in every scenario (their later resolution is not
foreseen; a small understatement of resolution during the first days of the horizon).

First response: the churn model has no first-response term, so answering faster can only
pay through resolution. :func:`evaluate` measures that link (a logistic regression of
*resolved* on log first response, within channel) and uses it only when the data support it
(``p < alpha`` and faster answers resolve more often); otherwise the scenario is reported as
*not estimable*, with the measured link, instead of inventing an effect.

Uncertainty
-----------
Each of ``draws`` draws takes the model's coefficients from a normal with the fitted
covariance ``cov_``, the bad-experience rates from their Gamma (Poisson) posteriors, the
contact share and resolution rate from Beta (binomial) posteriors, the delays from a
Dirichlet, and the first-response slope from its normal; baseline and every scenario are
evaluated on the same draw (common random numbers), so differences are sharp. Intervals are
the ``alpha/2`` and ``1-alpha/2`` quantiles of the draws; the point estimate uses the fitted
coefficients and measured rates. These intervals are on the *expected* revenue retained by
this base, which is what a decision between investments rests on (net benefit, ROI,
break-even, the probability that one beats another).

The revenue a base *actually* retains also varies with who happens to have which bad
experience and who happens to leave: ``realised_low``–``realised_high`` add that spread, a
Monte Carlo of futures per distinct known history (:mod:`cxlib.models.roi_futures`), until
it has converged (``settings["process_futures"]``). That is the interval a realised outcome
is held against (``tests/analyses/test_roi_truth.py``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxlib.analyses.roi_result import ROIResult
from cxlib.analyses.roi_scenarios import (
    ALL_TOUCHPOINTS,
    Scenario,
    check_fitted,
    check_touchpoints,
    load_scenarios,
    not_estimable_terms,
    scenario_rates,
    scenarios_and_currency,
)
from cxlib.config import DEFAULT_SCENARIOS, RESOLUTION_DAYS, ROI_DRAWS, WINDOW_DAYS
from cxlib.exceptions import ThinEvidenceWarning
from cxlib.features.roi_inputs import Measured, measure, rates_frame
from cxlib.models.roi_engine import (
    MONTH_DAYS,
    Engine,
    Inputs,
    class_shifts_all,
    class_weights,
    effective_bands,
    engagement_weights,
    has_engagement,
    log_baselines,
    pooled_hr,
    pooled_terms,
    touchpoint_log_hrs,
)
from cxlib.models.roi_futures import process_noise

__all__ = [
    "DEFAULT_SCENARIOS",
    "MONTH_DAYS",
    "Prepared",
    "ROIResult",
    "Scenario",
    "check_fitted",
    "evaluate",
    "evaluate_prepared",
    "load_scenarios",
    "prepare",
    "scenarios_and_currency",
]


@dataclass
class Prepared:
    """What :func:`evaluate` derives from the data and the model before any scenario: made once.

    The measured base and rates, the fitted model, the engine's precomputed structure of the
    base, and the draws of every uncertain input (row 0: the point estimates). A scenario
    changes only the bad-experience rates and the resolved share, so :meth:`run` keeps each
    evaluation it made by draw and inputs: a second scenario with the same inputs (the
    baseline, a slider moved back) costs nothing. :meth:`run_many` makes the new ones of many
    draws and scenarios at once (the engine stacks them), which is what :func:`evaluate_prepared` does. :func:`prepare` builds it,
    :func:`evaluate_prepared` evaluates scenarios on it; :func:`evaluate` is the two in one.
    """

    measured: Measured
    model: object
    engine: Engine
    notes: list[str]
    horizon_months: float
    draws: int
    seed: int
    alpha: float
    rate_days: int | None
    effective_band: list[str]
    betas: np.ndarray  # (draws + 1) × coefficients, columns ``cols``
    cols: list[str]
    lam_e: np.ndarray  # (draws + 1) × touchpoints: bad experiences per customer-day, first early_days
    lam_s: np.ndarray  # the same after early_days
    c_draw: np.ndarray  # contact share
    r_draw: np.ndarray  # resolution rate
    delay_draw: np.ndarray  # (draws + 1) × (resolution_days + 1)
    slope_draw: np.ndarray  # first response → resolution
    c_hat: float
    r_hat: float
    engagement_weights: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))  # exposure share per engagement cell
    # with engagement classes (measured.classes): per class, the exposure share of each cell within it
    class_weights: list | None = None
    _runs: dict = field(default_factory=dict, repr=False)
    _log_a: dict = field(default_factory=dict, repr=False)
    _log_shift: dict = field(default_factory=dict, repr=False)  # per draw: the classes' baseline shifts
    _coefficients: dict = field(default_factory=dict, repr=False)  # per draw: touchpoint log HRs, pooled log HRs

    @property
    def horizon_days(self) -> float:
        return float(self.horizon_months) * MONTH_DAYS

    def subset(self, draws: int) -> Prepared:
        """The same, on the point estimates and the first ``draws`` draws only (a quicker what-if)."""
        k = max(1, min(int(draws), self.draws)) + 1
        return Prepared(
            measured=self.measured, model=self.model, engine=self.engine, notes=list(self.notes),
            horizon_months=self.horizon_months, draws=k - 1, seed=self.seed, alpha=self.alpha,
            rate_days=self.rate_days, effective_band=self.effective_band, betas=self.betas[:k], cols=self.cols,
            lam_e=self.lam_e[:k], lam_s=self.lam_s[:k], c_draw=self.c_draw[:k], r_draw=self.r_draw[:k],
            delay_draw=self.delay_draw[:k], slope_draw=self.slope_draw[:k], c_hat=self.c_hat, r_hat=self.r_hat,
            engagement_weights=self.engagement_weights, class_weights=self.class_weights,
            _runs=self._runs, _log_a=self._log_a, _log_shift=self._log_shift, _coefficients=self._coefficients,
        )

    def inputs(self, b: int, lam_early: float, lam_settled: float, q: float, lam_tp=None) -> Inputs:
        """The engine's inputs on draw ``b`` with these future rates.

        ``lam_tp``: the settled rate of each touchpoint after the scenario (default: the base's),
        which weighs the per-touchpoint effects of a model that has them (an experience fix of a
        touchpoint is valued with that touchpoint's effect).

        With engagement classes, ``log_a`` has no engagement shift: each class's shift (``log_shift``,
        moving with the draw's coefficients) and relative rate (``class_rate``) are the class's own.
        """
        classes = self.class_weights is not None
        beta = pd.Series(self.betas[b], index=self.cols)  # the same for every scenario of a draw
        if b not in self._log_a:  # every draw at once (a draw set before, as cost.truth does, is kept)
            log_a = log_baselines(self.model, self.betas, self.cols, self.effective_band,
                                  pd.Series(dtype=float) if classes else self.engagement_weights)
            for i, la in enumerate(log_a):
                self._log_a.setdefault(i, la)
        if classes and b not in self._log_shift:
            for i, sh in enumerate(class_shifts_all(self.betas, self.cols, self.class_weights)):
                self._log_shift.setdefault(i, sh)
        if b not in self._coefficients:
            self._coefficients[b] = (touchpoint_log_hrs(self.model, beta, self.measured.touchpoints),
                                     self.log_hr(b, "unresolved"), self.log_hr(b, "resolved"))
        tp, hr_u, hr_r = self._coefficients[b]
        extra = {} if tp is None else {
            "log_hr_tp": tp, "lam_tp": np.asarray(self.lam_s[b] if lam_tp is None else lam_tp, dtype=float),
            "lam_tp_known": np.asarray(self.lam_s[b], dtype=float)}
        if classes:
            extra.update(log_shift=self._log_shift[b], class_rate=self.measured.classes["relative_rate"].to_numpy(float))
        return Inputs(log_a=self._log_a[b], log_hr_u=hr_u, log_hr_r=hr_r, lam_early=lam_early,
                      lam_settled=lam_settled, q=q, delay=self.delay_draw[b], **extra)

    def log_hr(self, b: int, kind: str) -> float:
        """Log hazard ratio of one bad experience of ``kind`` on draw ``b``, pooled over touchpoints.

        A model with per-touchpoint terms only (``count_term``) has no pooled coefficient: the
        future bad experiences then take the mean of the touchpoints' terms weighted by their
        measured bad experiences (the engine's closed form has one ratio for all of them).
        """
        if kind in self.cols:
            return float(self.betas[b, self.cols.index(kind)])
        rates = self.measured.rates
        terms = [self.model.count_term(kind, t) for t in rates["touchpoint"]]
        weights = rates["bad"].to_numpy(dtype=float)
        values = np.array([self.betas[b, self.cols.index(n)] for n in terms])
        return float(values @ weights / weights.sum())

    def base_rates(self, b: int) -> tuple[float, float, float]:
        """(λ_early, λ_settled, q) of draw ``b`` without any scenario."""
        return (float(self.lam_e[b].sum()), float(self.lam_s[b].sum()),
                float(np.clip(self.c_draw[b] * self.r_draw[b], 0, 1)))

    def run(self, b: int, lam_early: float, lam_settled: float, q: float, lam_tp=None) -> tuple[float, float]:
        """Expected value-weighted months and survivors on draw ``b`` (kept for the next call)."""
        return self.run_many([(b, lam_early, lam_settled, q, lam_tp)])[0]

    def run_many(self, requests: list, progress: bool = False) -> list[tuple[float, float]]:
        """:meth:`run` of each ``(b, lam_early, lam_settled, q, lam_tp)``: the new ones stacked in one
        :meth:`Engine.run_many <cxlib.models.roi_engine.Engine.run_many>` (the same values as one by one).

        ``progress``: a tqdm bar over the new runs.
        """
        keys = [(b, le, ls, q, None if tp is None else tuple(np.asarray(tp, dtype=float))) for b, le, ls, q, tp in requests]
        todo = {}
        for key, request in zip(keys, requests):
            if key not in self._runs and key not in todo:
                todo[key] = request
        if todo:
            bar = None
            if progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(todo), desc="roi runs", unit="run")
            v, s = self.engine.run_many([self.inputs(*r) for r in todo.values()], None if bar is None else bar.update)
            if bar is not None:
                bar.close()
            for key, vi, si in zip(todo, v, s):
                self._runs[key] = (float(vi), float(si))
        return [self._runs[key] for key in keys]


def prepare(
    data,
    *,
    model=None,
    as_of=None,
    horizon_months: float = 12,
    draws: int = ROI_DRAWS,
    seed: int = 0,
    alpha: float = 0.05,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    rate_days: int | None = 365,
    early_days: int = 7,
) -> Prepared:
    """The measured base, the model and the draws of :func:`evaluate`, ready for any scenario.

    The arguments are :func:`evaluate`'s (``model`` required, ``horizon_months`` in months);
    what-if controls prepare once and evaluate at every move of a slider
    (:func:`evaluate_prepared`), with no refit and no query.
    """
    check_fitted(model, window_days=window_days, resolution_days=resolution_days, caller="roi.prepare")
    if not horizon_months > 0:
        raise ValueError(f"horizon_months must be > 0, not {horizon_months}")
    draws = int(draws)
    if draws < 1:
        raise ValueError(f"draws must be >= 1, not {draws}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    measured = measure(data, as_of=as_of, window_days=window_days, resolution_days=resolution_days,
                       rate_days=rate_days, early_days=early_days, alpha=alpha, engagement=has_engagement(model))
    notes: list[str] = []
    model_as_of = getattr(model, "as_of_", None)
    if model_as_of is not None and pd.Timestamp(model_as_of) > measured.as_of:
        notes.append(f"the churn model was fitted on data up to {model_as_of}, after as_of {measured.as_of}")

    horizon_days = float(horizon_months) * MONTH_DAYS
    engine = Engine(measured, model, horizon_days)
    effective_band, band_notes = effective_bands(model)
    notes += band_notes
    fu = measured.follow_up
    if fu["bad"] < 30 or fu["contacted"] < 30:
        warnings.warn(f"only {fu['bad']} bad experiences and {fu['contacted']} contacts to measure resolution from",
                      ThinEvidenceWarning, stacklevel=3)

    # ---- draws of the uncertain inputs (draw 0: the point estimates)
    rng = np.random.default_rng(seed)
    B = draws
    beta0 = model.params_.astype(float)
    cov = model.cov_.loc[beta0.index, beta0.index].to_numpy(dtype=float)
    betas = np.vstack([beta0.to_numpy(), rng.multivariate_normal(beta0.to_numpy(), cov, size=B, method="eigh")])
    rates = measured.rates
    bad_e = rates["bad_early"].to_numpy(dtype=float)
    bad_s = rates["bad_settled"].to_numpy(dtype=float)
    ex_e = max(measured.exposure_early, 1e-9)
    ex_s = max(measured.exposure_settled, 1e-9)
    lam_e = np.vstack([bad_e / ex_e, rng.gamma(bad_e[None, :] + 0.5, 1.0 / ex_e, size=(B, len(bad_e)))])
    lam_s = np.vstack([bad_s / ex_s, rng.gamma(bad_s[None, :] + 0.5, 1.0 / ex_s, size=(B, len(bad_s)))])
    c_hat = fu["contacted"] / fu["bad"] if fu["bad"] else 0.0
    r_hat = fu["resolved"] / fu["contacted"] if fu["contacted"] else 0.0
    c_draw = np.concatenate([[c_hat], rng.beta(fu["contacted"] + 0.5, fu["bad"] - fu["contacted"] + 0.5, size=B)])
    r_draw = np.concatenate([[r_hat], rng.beta(fu["resolved"] + 0.5, fu["contacted"] - fu["resolved"] + 0.5, size=B)])
    delays = measured.delays
    delay_hat = delays / delays.sum() if delays.sum() > 0 else np.eye(len(delays))[0]
    delay_draw = np.vstack([delay_hat, rng.dirichlet(delays + 0.5, size=B)])
    link = measured.first_response
    slope_draw = np.concatenate([[link["slope"]], rng.normal(link["slope"], link["se"], size=B)]) if link["supported"] \
        else np.full(B + 1, np.nan)
    return Prepared(
        measured=measured, model=model, engine=engine, notes=notes, horizon_months=float(horizon_months), draws=B,
        seed=int(seed), alpha=float(alpha), rate_days=rate_days, effective_band=effective_band, betas=betas,
        cols=list(beta0.index), lam_e=lam_e, lam_s=lam_s, c_draw=c_draw, r_draw=r_draw, delay_draw=delay_draw,
        slope_draw=slope_draw, c_hat=float(c_hat), r_hat=float(r_hat), engagement_weights=engagement_weights(model),
        class_weights=None if measured.classes is None else class_weights(model, measured.classes),
    )


def evaluate(
    data,
    scenarios=None,
    *,
    model=None,
    as_of=None,
    horizon_months: float = 12,
    draws: int = ROI_DRAWS,
    seed: int = 0,
    alpha: float = 0.05,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    rate_days: int | None = 365,
    early_days: int = 7,
    currency: str | None = None,
    process_draws: int = 100,
    progress: bool = False,
) -> ROIResult:
    """Churn avoided, revenue retained, net benefit and ROI of each scenario, with intervals.

    ``scenarios``: anything :func:`load_scenarios` takes (default: the shipped file), or a
    list of :class:`Scenario`. ``model`` (required): a fitted :class:`~cxlib.models.churn.ChurnModel`
    with the same window and resolution days; fit it first, on data up to ``as_of``
    (``ChurnModel(...).fit(data, as_of=as_of)``): this function never fits one. Money is counted
    over ``horizon_months`` (months) for the customers active at ``as_of``; yearly costs are
    prorated to the horizon. See the module docstring for the method.

    Up to ``process_draws`` futures per distinct known history on average (a Monte Carlo,
    :func:`cxlib.models.roi_futures.process_noise`, stopped when its spread has converged) add
    the spread of what is *actually* retained to the interval of the expected value: the
    columns ``realised_low`` and ``realised_high`` (0 skips it); ``settings["process_futures"]``
    says how many futures were drawn.

    The same as :func:`prepare` followed by :func:`evaluate_prepared`.
    """
    scenario_list, currency = scenarios_and_currency(scenarios, currency)
    prepared = prepare(data, model=model, as_of=as_of, horizon_months=horizon_months, draws=draws, seed=seed,
                       alpha=alpha, window_days=window_days, resolution_days=resolution_days, rate_days=rate_days,
                       early_days=early_days)
    return evaluate_prepared(prepared, scenario_list, currency=currency, process_draws=process_draws,
                             progress=progress)


def evaluate_prepared(
    prepared: Prepared,
    scenarios=None,
    *,
    currency: str | None = None,
    process_draws: int = 100,
    progress: bool = False,
) -> ROIResult:
    """:func:`evaluate` on what :func:`prepare` derived: no query, no fit, only the engine's runs.

    Runs already made on ``prepared`` (the baseline, a scenario with the same inputs) are reused.
    """
    scenario_list, currency = scenarios_and_currency(scenarios, currency)
    p = prepared
    measured, model, engine = p.measured, p.model, p.engine
    horizon_months, horizon_days, alpha, seed, B = p.horizon_months, p.horizon_days, p.alpha, p.seed, p.draws
    rate_days = p.rate_days
    check_touchpoints(scenario_list, measured.touchpoints)
    notes = list(p.notes)
    betas, lam_e, lam_s, c_draw, r_draw = p.betas, p.lam_e, p.lam_s, p.c_draw, p.r_draw
    delay_draw, slope_draw, c_hat, r_hat = p.delay_draw, p.slope_draw, p.c_hat, p.r_hat
    beta0 = pd.Series(betas[0], index=p.cols)
    link = measured.first_response
    bad_e = measured.rates["bad_early"].to_numpy(dtype=float)
    bad_s = measured.rates["bad_settled"].to_numpy(dtype=float)

    not_estimable = getattr(model, "not_estimable_", None) or {}
    levels = [t for t in not_estimable if t.partition("[")[0] not in ("unresolved", "resolved")]
    if levels and len(not_estimable) < len(model.columns_) - 1:  # with every term missing, the scenarios say it
        notes.append("the churn model could not estimate " + ", ".join(levels) + " (no churn event there): their "
                     "customers take the reference hazard, which overstates their churn")
    estimable = {}
    for sc in scenario_list:
        ok, why = True, ""
        if sc.kind == "service" and "first_response_cut" in sc.change and not link["supported"]:
            ok, why = False, link.get("reason", "no measured link from first response to resolution") + \
                "; the churn model has no first-response term, so the benefit of answering faster cannot be estimated from this data"
        if sc.kind == "service" and "resolution_rate" in sc.change and sc.change["resolution_rate"] < r_hat:
            notes.append(f"{sc.name}: the target resolution rate {sc.change['resolution_rate']:.0%} is below the measured {r_hat:.0%}")
        if sc.kind == "service" and "contact_share" in sc.change and sc.change["contact_share"] < c_hat:
            notes.append(f"{sc.name}: the target contact share {sc.change['contact_share']:.0%} is below the measured {c_hat:.0%}")
        if sc.kind == "experience" and sc.change["touchpoint"] != ALL_TOUCHPOINTS:
            i = measured.touchpoints.index(sc.change["touchpoint"])
            if bad_s[i] == 0 and bad_e[i] > 0:
                notes.append(f"{sc.name}: {sc.change['touchpoint']} happens only in the first {measured.early_days} days "
                             "of tenure; its benefit comes from customers not yet signed up, which this analysis leaves out")
        terms = not_estimable_terms(sc, model, c_hat * r_hat)
        if ok and terms:
            by_reason: dict[str, list[str]] = {}
            for t in terms:
                by_reason.setdefault(model.not_estimable_[t], []).append(t)
            ok, why = False, "; ".join(
                f"the churn model cannot estimate {', '.join(ts)} ({reason})" for reason, ts in by_reason.items())
        estimable[sc.name] = (ok, why)

    names = [s.name for s in scenario_list]
    value = np.full((B + 1, len(names)), np.nan)
    saved = np.full((B + 1, len(names)), np.nan)
    base_value = np.empty(B + 1)
    base_surv = np.empty(B + 1)
    per_tp = bool(getattr(model, "by_touchpoint", False))
    requests, cells = [], []  # every run of every draw, then evaluated at once (stacked)
    for b in range(B + 1):
        requests.append((b, *p.base_rates(b), None))
        cells.append((b, None))
        for j, sc in enumerate(scenario_list):
            if not estimable[sc.name][0]:
                continue
            le, ls, q, lam_tp = scenario_rates(sc, measured, lam_e[b], lam_s[b], c_draw[b], r_draw[b], slope_draw[b],
                                                 per_touchpoint=True)
            requests.append((b, le, ls, q, lam_tp if per_tp else None))
            cells.append((b, j))
    runs = p.run_many(requests, progress=progress)
    for (b, j), (v, s) in zip(cells, runs):
        if j is None:
            base_value[b], base_surv[b] = v, s
        else:
            value[b, j], saved[b, j] = v, s
    for j in range(len(names)):
        value[:, j] -= base_value
        saved[:, j] -= base_surv

    realised = np.full((B, len(names)), np.nan)
    futures_used = histories = 0
    if process_draws and int(process_draws) > 0:
        tps = measured.touchpoints
        q_point, cuts = [], []
        for sc in scenario_list:
            cut = np.zeros(len(tps))
            if not estimable[sc.name][0]:
                q_point.append(None)
            elif sc.kind == "experience":
                q_point.append(float(np.clip(c_hat * r_hat, 0, 1)))
                if sc.change["touchpoint"] == ALL_TOUCHPOINTS:
                    cut[:] = sc.change["bad_rate_cut"]
                else:
                    cut[tps.index(sc.change["touchpoint"])] = sc.change["bad_rate_cut"]
            else:
                q_point.append(scenario_rates(sc, measured, lam_e[0], lam_s[0], c_hat, r_hat, slope_draw[0])[2])
            cuts.append(cut)
        hu0, hr0, _ = pooled_terms(model, beta0, measured.touchpoints, lam_s[0])
        base0 = p.inputs(0, *p.base_rates(0))  # the point estimates' baseline (with classes: shifts, rates)
        point = Inputs(log_a=base0.log_a, log_hr_u=hu0, log_hr_r=hr0, lam_early=float(lam_e[0].sum()),
                       lam_settled=float(lam_s[0].sum()), q=float(np.clip(c_hat * r_hat, 0, 1)), delay=delay_draw[0],
                       log_shift=base0.log_shift, class_rate=base0.class_rate)
        ok_futures = [q is not None for q in q_point]
        resid_v, futures_used, histories = process_noise(engine, point, q_point, lam_s[0], cuts, int(process_draws),
                                                          np.random.default_rng([int(seed), 1]), draws=B,
                                                          expected_var=np.nanvar(value[1:, ok_futures], axis=0))
        realised = value[1:] + resid_v

    cost = np.array([s.yearly_cost for s in scenario_list]) * float(horizon_months) / 12.0
    net = value - cost[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost[None, :] > 0, net / cost[None, :], np.nan)
    break_even = value * 12.0 / float(horizon_months)

    lo_q, hi_q = alpha / 2, 1 - alpha / 2
    ok_cols = [j for j, n in enumerate(names) if estimable[n][0]]
    if not (np.isfinite(value[:, ok_cols]).all() and np.isfinite(net[:, ok_cols]).all()):
        raise ValueError(
            "the ROI's values are not finite numbers (an overflow: look for absurd monthly_value or cost "
            "values in the data); no probability or interval is reported over them"
        )
    best = np.full(len(names), np.nan)
    if ok_cols:
        winner = np.asarray(ok_cols)[np.argmax(net[1:, ok_cols], axis=1)]
        counts = np.bincount(winner, minlength=len(names))
        for j in ok_cols:
            best[j] = counts[j] / B

    def interval(arr, j):
        col = arr[1:, j]
        if np.all(np.isnan(col)):
            return np.nan, np.nan
        return float(np.nanquantile(col, lo_q)), float(np.nanquantile(col, hi_q))

    rows = []
    for j, sc in enumerate(scenario_list):
        ok, why = estimable[sc.name]
        row = {"scenario": sc.name, "kind": sc.kind, "yearly_cost": sc.yearly_cost,
               "cost": float(cost[j]), "estimable": ok}
        for key, arr in (("retained_revenue", value), ("churn_avoided", saved), ("net_benefit", net), ("roi", roi),
                         ("break_even_cost", break_even)):
            low, high = interval(arr, j)
            row[key], row[f"{key}_low"], row[f"{key}_high"] = float(arr[0, j]), low, high
        if ok and not np.all(np.isnan(realised[:, j])):
            row["realised_low"], row["realised_high"] = (float(np.quantile(realised[:, j], lo_q)),
                                                         float(np.quantile(realised[:, j], hi_q)))
        else:
            row["realised_low"] = row["realised_high"] = np.nan
        row["p_positive"] = float(np.mean(net[1:, j] > 0)) if ok else np.nan
        row["p_best"] = float(best[j])
        row["note"] = why
        rows.append(row)
    table = pd.DataFrame(rows)

    beats = pd.DataFrame(np.nan, index=pd.Index(names, name="scenario"), columns=names)
    for i in ok_cols:
        for j in ok_cols:
            if i != j:
                beats.iloc[i, j] = float(np.mean(net[1:, i] > net[1:, j]))

    draw_frame = pd.DataFrame(
        {
            "draw": np.repeat(np.arange(1, B + 1), len(names)),
            "scenario": np.tile(names, B),
            "retained_revenue": value[1:].ravel(),
            "churn_avoided": saved[1:].ravel(),
            "net_benefit": net[1:].ravel(),
            "roi": roi[1:].ravel(),
        }
    )
    n = engine.n_customers
    baseline = {
        "customers": n,
        "customers_with_recent_bad_experience": engine.n_known,
        "monthly_revenue": float(measured.customers["monthly_value"].sum()),
        "expected_revenue": float(base_value[0]),
        "expected_revenue_low": float(np.quantile(base_value[1:], lo_q)),
        "expected_revenue_high": float(np.quantile(base_value[1:], hi_q)),
        "expected_churn": float(n - base_surv[0]),
        "expected_churn_low": float(np.quantile(n - base_surv[1:], lo_q)),
        "expected_churn_high": float(np.quantile(n - base_surv[1:], hi_q)),
    }
    rate_table = rates_frame(measured, c_hat, r_hat, link)
    settings = {
        "as_of": measured.as_of.isoformat(),
        "horizon_months": float(horizon_months),
        "horizon_days": horizon_days,
        "draws": B,
        "seed": int(seed),
        "alpha": float(alpha),
        "window_days": measured.window_days,
        "resolution_days": measured.resolution_days,
        "rate_days": rate_days,
        "early_days": measured.early_days,
        "currency": currency,
        # NaN (None in JSON) where the model could not estimate the term (not_estimable_)
        "hr_unresolved": pooled_hr(model, beta0, measured.touchpoints, lam_s[0], "unresolved"),
        "hr_resolved": pooled_hr(model, beta0, measured.touchpoints, lam_s[0], "resolved"),
        "method": "closed form: expected hazard from Poisson thinning, survival exp(-∫E[h]) per customer",
        "process_draws": int(process_draws or 0),
        "process_draws_used": int(math.ceil(futures_used / histories)) if histories else 0,  # per history, on average
        "process_futures": int(futures_used),
        "churn_model": "given",  # an analysis never fits one (check_fitted)
        "known_histories": int(histories),
    }
    return ROIResult(scenario_list, table, draw_frame, beats, baseline, rate_table, settings, notes)
