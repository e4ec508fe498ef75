"""What one bad experience costs, in money, per touchpoint.

For each touchpoint, :func:`evaluate` answers: if every customer active at ``as_of`` had
**one more** bad experience at that touchpoint today, how much revenue would the base lose
over the horizon, on average per customer?

* **left unresolved**: the experience counts as unresolved in the trailing window for its
  ``window_days`` days (design.md's definitions), so it multiplies the customer's hazard by
  the unresolved hazard ratio of that touchpoint on days 1 … W after it;
* **resolved by service**: it counts as unresolved until the resolving contact (on a delay
  δ = 0 … ``resolution_days`` days, drawn from the measured delays) and as resolved after,
  so the hazard is multiplied by the unresolved ratio on days 1 … δ and by the resolved
  ratio on days δ+1 … W;
* **resolving one is worth** the difference; the cost of one left unresolved is the whole,
  the most it is worth paying to prevent one (preventing it also saves the contact).

The hazard the extra experience multiplies is the ROI engine's **expected** hazard of each
customer (:mod:`cxlib.models.roi_engine`, closed form: the known bad experiences of the customer, the
future ones at the measured rates, resolution at the measured share, the segment and tenure
baseline), so the cost is the drop of the expected revenue retained over the horizon,
averaged over the active customers as they are, not over one reference customer. The extra
experience's hazard ratio is applied without the model's count cap (the cap pools high
counts for the fit; fewer than 1% of customer-days reach it).

The coefficient of one bad experience of a kind on a touchpoint is the model's
``count_term(kind, touchpoint)`` (its per-touchpoint terms where the model has them, the
pooled one otherwise); the future bad experiences of the baseline path take the pooled
coefficient, or the mean of the touchpoints' weighted by their bad experiences
(:meth:`cxlib.analyses.roi.Prepared.log_hr`). Intervals: the draws of :func:`cxlib.analyses.roi.prepare` (coefficients from
their fitted covariance, rates and resolution from their posteriors), all touchpoints on the
same draws, quantiles ``alpha/2`` and ``1 - alpha/2``.

The horizon is in months (``horizon_months``), as in :mod:`cxlib.analyses.roi`; the analysis
date is the keyword-only ``as_of``; ``model`` (a fitted churn model) is required: this module
never fits one. Numbers only: the words and the formatting are in :mod:`cxlib.present.summary`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxlib.analyses import roi
from cxlib.config import RESOLUTION_DAYS, ROI_DRAWS, WINDOW_DAYS

__all__ = ["CostResult", "evaluate", "coefficient_names", "truth"]

KINDS = ("unresolved", "resolved")


def coefficient_names(model, touchpoint: str) -> tuple[str, str]:
    """The ``params_``/``cov_`` names of one unresolved and one resolved bad experience on ``touchpoint``."""
    return tuple(model.count_term(kind, touchpoint) for kind in KINDS)


@dataclass
class CostResult:
    """What :func:`evaluate` returns: one row per touchpoint, and the settings."""

    table: pd.DataFrame
    settings: dict

    @property
    def currency(self) -> str:
        return self.settings["currency"]

    def to_dict(self) -> dict:
        def clean(v):
            if isinstance(v, (float, np.floating)):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        return {
            "settings": {k: clean(v) for k, v in self.settings.items()},
            "touchpoints": [{k: clean(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")],
        }


def _multipliers(W: int, Wk: int, hr_u: float, hr_r: float, delays: int) -> np.ndarray:
    """Rows: left unresolved, then resolved on delay 0 … delays-1; columns: days 0 … Wk-1 of the horizon."""
    days = np.arange(Wk)
    counted = (days >= 1) & (days <= W)
    rows = [np.where(counted, hr_u, 1.0)]
    for delta in range(delays):
        rows.append(np.where(counted & (days <= delta), hr_u, np.where(counted, hr_r, 1.0)))
    return np.vstack(rows)


def evaluate_prepared(prepared: roi.Prepared, *, touchpoints=None, currency: str = "EUR",
                      log_hr: dict | None = None) -> CostResult:
    """:func:`evaluate` on what :func:`cxlib.analyses.roi.prepare` derived (the same draws as the ROI).

    ``log_hr``: touchpoint → (log HR unresolved, log HR resolved) to use instead of the
    model's coefficients on every draw (the truth of a simulated world, :func:`truth`).
    """
    p = prepared
    engine, model = p.engine, p.model
    tps = list(p.measured.touchpoints if touchpoints is None else touchpoints)
    names = {t: coefficient_names(model, t) for t in tps}
    missing = sorted({n for pair in names.values() for n in pair} - set(p.cols))
    if missing:
        raise ValueError(f"the churn model has no coefficient {missing}")
    W, Wk, n = engine.W, engine.Wk, engine.n_customers
    n_delay = p.delay_draw.shape[1]
    B = p.draws
    rows_b = range(B + 1) if log_hr is None else range(1)
    cost = {t: np.full((len(rows_b), 2), np.nan) for t in tps}  # money: unresolved, resolved
    churn = {t: np.full((len(rows_b), 2), np.nan) for t in tps}
    for b in rows_b:
        inp = p.inputs(b, *p.base_rates(b))
        v0, s0 = p.run(b, *p.base_rates(b))
        pairs = {}
        for t in tps:
            if log_hr is None:
                pair = tuple(float(p.betas[b, p.cols.index(name)]) for name in names[t])
            else:
                pair = tuple(float(x) for x in log_hr[t])
            pairs[t] = pair
        unique = sorted(set(pairs.values()))
        M = np.vstack([_multipliers(W, Wk, np.exp(u), np.exp(r), n_delay) for u, r in unique])
        v, s = engine.run_multiplied(inp, M)
        per = len(M) // len(unique)
        w = p.delay_draw[b]
        for t in tps:
            k = unique.index(pairs[t]) * per
            lost_v, lost_s = (v0 - v[k:k + per]) / n, (s0 - s[k:k + per]) / n
            cost[t][b] = lost_v[0], float(lost_v[1:] @ w)
            churn[t][b] = lost_s[0], float(lost_s[1:] @ w)

    lo_q, hi_q = p.alpha / 2, 1 - p.alpha / 2
    bad = p.measured.rates.set_index("touchpoint")["bad"]

    def spread(arr):
        if arr.shape[0] < 2:
            return np.nan, np.nan
        return float(np.quantile(arr[1:], lo_q)), float(np.quantile(arr[1:], hi_q))

    out = []
    for t in tps:
        c, h = cost[t], churn[t]
        row = {"touchpoint": t, "coefficient_unresolved": names[t][0], "coefficient_resolved": names[t][1],
               "bad_experiences": int(bad.get(t, 0))}
        for key, arr in (("unresolved", c[:, 0]), ("resolved", c[:, 1]), ("resolving", c[:, 0] - c[:, 1]),
                         ("churn_unresolved", h[:, 0]), ("churn_resolved", h[:, 1])):
            row[key] = float(arr[0])
            row[f"{key}_low"], row[f"{key}_high"] = spread(arr)
        out.append(row)
    table = pd.DataFrame(out)
    settings = {
        "as_of": p.measured.as_of.isoformat(),
        "customers": int(n),
        "monthly_revenue_per_customer": float(p.measured.customers["monthly_value"].mean()),
        "horizon_months": float(p.horizon_months),
        "window_days": int(W),
        "resolution_days": int(p.measured.resolution_days),
        "draws": int(B) if log_hr is None else 0,
        "alpha": float(p.alpha),
        "currency": currency,
        "per_touchpoint": any(names[t] != KINDS for t in tps),
    }
    return CostResult(table, settings)


def evaluate(
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
    currency: str = "EUR",
    prepared: roi.Prepared | None = None,
) -> CostResult:
    """Revenue lost over ``horizon_months`` from one more bad experience per touchpoint, per active customer.

    Columns of ``table`` (money per active customer, in ``currency``; each with ``_low`` and
    ``_high``): ``unresolved`` (one left unresolved: also the most worth paying to prevent
    one), ``resolved`` (one that service resolves), ``resolving`` (the difference: what
    resolving one is worth); ``churn_unresolved``, ``churn_resolved``: the extra probability
    of leaving within the horizon. ``model`` (required unless ``prepared`` is given): a fitted
    :class:`~cxlib.models.churn.ChurnModel`; one fitted ``by_touchpoint=True`` gives each
    touchpoint its own cost, a pooled one the same cost at every touchpoint. ``prepared``: reuse
    :func:`cxlib.analyses.roi.prepare`'s result (the ROI's draws and engine, with its model)
    instead of measuring again.
    """
    if prepared is None:
        roi.check_fitted(model, window_days=window_days, resolution_days=resolution_days, caller="cost.evaluate")
        prepared = roi.prepare(data, model=model, as_of=as_of, horizon_months=horizon_months, draws=draws, seed=seed,
                               alpha=alpha, window_days=window_days, resolution_days=resolution_days)
    return evaluate_prepared(prepared, currency=currency)


def truth(prepared: roi.Prepared, truth: dict, *, currency: str = "EUR") -> CostResult:
    """The cost per touchpoint with the simulator's hazard (``truth.json``'s ``hazard``).

    The churn hazard (segment base rates, tenure hazard ratios, the hazard ratios of an
    unresolved and a resolved bad experience, per touchpoint where the simulated world has
    them) is the simulator's; the base, its known bad experiences and the future rates are
    those of the data (the future rates move the cost only through the baseline hazard).
    """
    from cxlib.features import panel as _panel

    p = prepared
    hazard = truth["hazard"]
    model = p.model
    bands = hazard["tenure_bands"]
    if [b["from_day"] for b in bands] != list(_panel._check_bands(model.tenure_bands)):
        raise ValueError("the simulated world's tenure bands are not the model's")
    log_a = np.log(np.array([[hazard["base_daily"][s] * b["hr"] for b in bands] for s in model.segments_]))
    per_tp = hazard.get("hr_by_touchpoint") or {}
    log_hr = {}
    for t in p.measured.touchpoints:
        hr = per_tp.get(t, {})
        log_hr[t] = (float(np.log(hr.get("unresolved", hazard["hr_unresolved"]))),
                     float(np.log(hr.get("resolved", hazard["hr_resolved"]))))
    true_p = roi.Prepared(**{f: getattr(p, f) for f in p.__dataclass_fields__ if not f.startswith("_")})
    true_p.betas = p.betas.copy()
    weights = p.measured.rates.set_index("touchpoint")["bad"].astype(float)
    for j, kind in enumerate(KINDS):  # the future bad experiences: the true ratios, pooled as the engine does
        pooled = float(sum(log_hr[t][j] * weights[t] for t in log_hr) / weights.sum())
        for name in {coefficient_names(model, t)[j] for t in log_hr} | ({kind} & set(p.cols)):
            true_p.betas[0, true_p.cols.index(name)] = pooled
    true_p._log_a[0] = log_a
    if true_p.class_weights is not None:  # the simulator's hazard has no engagement shift here
        true_p._log_shift[0] = np.zeros(len(true_p.class_weights))
    return evaluate_prepared(true_p, currency=currency, log_hr=log_hr)
