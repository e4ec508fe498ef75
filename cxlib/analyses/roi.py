"""ROI of service against experience: what an investment is worth in revenue retained.

The question: with the next budget, is it worth more to fix problems after they happen
(customer *service*: resolve more of the contacts, get more of the unhappy customers to
contact, answer faster) or to stop them happening (customer *experience*: cut the bad rate of
a touchpoint)? :func:`evaluate` answers in money, with intervals, for the **current customer
base** (the customers active at ``as_of``) over a horizon (12 months by default).

Scenarios are data (:func:`load_scenarios`): a YAML file, or the same structure as a dict,
listing investments with a name, a kind, what they change and a yearly cost. The default file
is ``cxlib/analyses/scenarios/default.yaml``.

Method: closed form for the expected hazard, per customer
-------------------------------------------------------------
The fitted :class:`cxlib.models.churn.ChurnModel` says that on a day ``d`` a customer's hazard is::

    h(d) = a(segment, tenure band of d) × HR_u^min(U(d), cap) × HR_r^min(R(d), cap)

with ``U(d)``, ``R(d)`` the unresolved and resolved bad experiences of the trailing window
(design.md's definitions). Over the horizon, ``U`` and ``R`` have two parts:

* **known**: the bad experiences each customer already had before ``as_of`` and whose window
  reaches into the horizon, with their resolution as known at ``as_of``. They are read from
  the data, customer by customer, and are the same in every scenario;
* **future**: bad experiences that have not happened yet. Measured rates give ``λ`` bad
  experiences per customer-day (per touchpoint, separately for the first ``early_days`` of
  tenure, so one-off touchpoints such as onboarding are not spread over the whole base);
  each is resolved with probability ``q = contact share × resolution rate`` (both measured
  among bad experiences whose resolution window had closed), on ``δ`` days after it, ``δ``
  drawn from the measured resolution delays (0 … ``resolution_days``).

The future bad experiences form a Poisson process in time, each marked *resolved on lag δ* or
*never resolved*. By design.md's rule an experience of day ``e`` counts as unresolved on days
``e+1 … e+δ`` and resolved on ``e+δ+1 … e+W``. On day ``d`` an experience of day ``e`` is
therefore unresolved with probability ``P_U(L) = (1-q) + q·P(δ ≥ L)`` and resolved with
``P_R(L) = q·P(δ ≤ L-1)``, ``L = d - e``. Marking (thinning) a Poisson process
independently gives independent Poisson processes, so the future parts of ``U(d)`` and ``R(d)``
are **independent Poisson** counts with means::

    μ_U(d) = Σ_e λ(e) P_U(d-e),     μ_R(d) = Σ_e λ(e) P_R(d-e)     (1 ≤ d-e ≤ W)

and the expected hazard multiplier, with ``k_u``, ``k_r`` the known counts, is **exactly**::

    E[HR_u^min(k_u+X_u, cap)] · E[HR_r^min(k_r+X_r, cap)],   X ~ Poisson(μ)

each a finite sum over the Poisson probabilities (the cap makes the tail one term). Without
the cap, without known counts and in steady state (``d > W``) this is the probability
generating function of the two Poisson counts::

    exp(λ[(W(1-q) + q·E[δ])(HR_u - 1) + q(W - E[δ])(HR_r - 1)])

i.e. the hint's ``exp(λW[(1-q)(HR_u-1) + q(HR_r-1)])`` corrected for the ``E[δ]`` days an
eventually resolved experience spends unresolved first; the sums above keep both the timing
and the cap exactly (checked against simulated event paths in ``tests/test_roi.py``).

Expected survival is then ``S(t) = exp(-∫ E[h])``, and a customer's expected months retained
over the horizon is ``∫ S(t) dt / 30.4375``, valued at ``monthly_value``. This step is the one
approximation: ``E[exp(-Λ)] ≥ exp(-E[Λ])`` (Jensen), with a gap of about ``Var(Λ)/2`` — below
1% of the survival for churn rates of a few percent a month, and of second order on the
*difference* between two scenarios, which is what the ROI uses. ``tests/test_roi.py`` checks
the closed form against a brute-force Monte Carlo of future paths (timing and cap included),
and ``tests/test_roi_truth.py`` against the revenue actually retained in simulated worlds.

Why closed form rather than Monte Carlo: it has no simulation noise, so a scenario that
changes nothing retains exactly 0 and every draw of the uncertainty is one cheap pass; the
customers without a known bad experience share their expected path by segment and tenure,
so the cost is (segments × tenure days × horizon days) plus (customers with a known bad
experience × window days) per draw, whatever the size of the base.

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
experience and who happens to leave. ``realised_low``–``realised_high`` add that spread: a
Monte Carlo of futures at the point estimates (future bad experiences, their resolution and
a churn threshold, shared by baseline and scenarios) drawn once per distinct known history
(segment, tenure bands crossed, known bad experiences), not per customer; the covariance of
the base's realised difference from the baseline (a sum of independent customers, hence
normal) is added to the draws of the expected value. Futures are added until that spread
has converged, at most ``process_draws`` per history; the result reports how many were
needed (``settings["process_draws_used"]``). That is the interval a realised outcome is
held against (``tests/test_roi_truth.py``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from cxlib.config import DEFAULT_SCENARIOS, RESOLUTION_DAYS, WINDOW_DAYS
from cxlib.features.definitions import ROUTINE_TOUCHPOINT, bad_experiences_sql
from cxlib.exceptions import DataError, ThinEvidenceWarning
from cxlib.present.format import money, money_interval, pct

__all__ = [
    "DEFAULT_SCENARIOS",
    "MONTH_DAYS",
    "ROIResult",
    "Scenario",
    "beats_table",
    "evaluate",
    "load_scenarios",
    "measure",
    "recommendation",
    "roi_table",
    "side_by_side",
    "summary_section",
]

#: The scenario file shipped with the demo.
#: Days in a month (365.25 / 12), as in the simulator.
MONTH_DAYS = 30.4375
KINDS = ("service", "experience")
#: What each kind of investment may change.
CHANGES = {
    "service": ("resolution_rate", "contact_share", "first_response_cut"),
    "experience": ("touchpoint", "bad_rate_cut"),
}
ALL_TOUCHPOINTS = "all"
#: A tenure band with fewer churn events than this takes the coefficient of the band before it.
MIN_BAND_EVENTS = 10


# ---------------------------------------------------------------------------------------
# Scenarios


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

    def describe(self) -> str:
        """What the scenario changes, in words: ``resolution rate → 90%``."""
        c = self.change
        parts = []
        if "resolution_rate" in c:
            parts.append(f"resolution rate → {100 * c['resolution_rate']:.0f}%")
        if "contact_share" in c:
            parts.append(f"contact share → {100 * c['contact_share']:.0f}%")
        if "first_response_cut" in c:
            parts.append(f"first response −{100 * c['first_response_cut']:.0f}%")
        if "bad_rate_cut" in c:
            where = "every touchpoint" if c["touchpoint"] == ALL_TOUCHPOINTS else c["touchpoint"]
            parts.append(f"bad rate of {where} −{100 * c['bad_rate_cut']:.0f}%")
        return ", ".join(parts)

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
# What the data say at as_of


@dataclass
class Measured:
    """The current base and the rates measured up to ``as_of`` (see :func:`measure`)."""

    as_of: pd.Timestamp
    customers: pd.DataFrame  # active at as_of: customer_id, segment, monthly_value, tenure_day
    known: pd.DataFrame  # their bad experiences still in the window: customer_id, e (rel. day), c (rel. resolved day or NaN)
    rates: pd.DataFrame  # touchpoint, experiences, bad, bad_early, bad_settled, bad_rate
    exposure_early: float
    exposure_settled: float
    follow_up: dict  # bad, contacted, resolved (window closed)
    delays: np.ndarray  # resolved bad experiences by delay 0..resolution_days
    first_response: dict  # the measured link first response → resolution
    window_days: int
    resolution_days: int
    early_days: int
    rate_days: int | None

    @property
    def touchpoints(self) -> list[str]:
        return self.rates["touchpoint"].tolist()

    @property
    def contact_share(self) -> float:
        f = self.follow_up
        return f["contacted"] / f["bad"] if f["bad"] else float("nan")

    @property
    def resolution_rate(self) -> float:
        f = self.follow_up
        return f["resolved"] / f["contacted"] if f["contacted"] else float("nan")


def _seen(as_of_sql: str) -> str:
    """A CTE ``seen``: the interactions known at as_of (stamped before it)."""
    return f'seen AS (SELECT * FROM interactions WHERE "at" < {as_of_sql})'


def measure(
    data,
    *,
    as_of=None,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    rate_days: int | None = 365,
    early_days: int = 7,
    alpha: float = 0.05,
) -> Measured:
    """The base at ``as_of`` and the rates the scenarios change, from data up to ``as_of`` only.

    - ``customers``: those active at ``as_of`` (signed up before, not churned by then), with
      segment, monthly value and tenure in whole days since the signup day;
    - ``known``: their bad experiences whose trailing window reaches past ``as_of``, with the
      day resolved as known at ``as_of``;
    - bad experiences per touchpoint per customer-day over the last ``rate_days`` days
      (``None``: all history), split into the first ``early_days`` of tenure and after;
    - contact share, resolution rate and resolution delays among bad experiences of that
      period whose resolution window had closed by ``as_of``;
    - the link from first response time to resolution (logistic regression within channel).

    Every query runs in ``data``'s engine (``data.query``: DuckDB, or Spark through
    :mod:`cxlib.data.spark`); what comes back is one row per active customer and per known bad
    experience, and a few aggregated rows: never the interactions.
    """
    from cxlib.data.load import utc_naive

    as_of = utc_naive(data.as_of if as_of is None or as_of == "" else as_of)
    w, r = int(window_days), int(resolution_days)
    if w < 1 or r < 0:
        raise ValueError("need window_days >= 1 and resolution_days >= 0")
    lit = f"TIMESTAMP '{as_of.isoformat(sep=' ')}'"
    day0 = f"CAST({lit} AS DATE)"
    first = data.query(f"SELECT min(signup_at) AS first FROM customers WHERE signup_at < {lit}")["first"].iloc[0]
    if first is None or pd.isna(first):
        raise DataError(f"no customer signed up before as_of {as_of}")
    p0 = pd.Timestamp(first) if rate_days is None else max(pd.Timestamp(first), as_of - pd.Timedelta(days=int(rate_days)))
    p0_lit = f"TIMESTAMP '{p0.isoformat(sep=' ')}'"
    early = f"INTERVAL {int(early_days)} DAY"
    active = f"signup_at < {lit} AND (churned_at IS NULL OR churned_at > {lit})"

    customers = data.query(
        f"""SELECT customer_id, segment, monthly_value, date_diff('day', CAST(signup_at AS DATE), {day0}) AS tenure_day
            FROM customers
            WHERE {active}
            ORDER BY customer_id"""
    )
    if customers.empty:
        raise DataError(f"no customer is active at as_of {as_of}: nothing to retain")
    customers["customer_id"] = customers["customer_id"].astype(str)
    customers["segment"] = customers["segment"].astype(str)
    customers["monthly_value"] = customers["monthly_value"].astype(float)
    customers["tenure_day"] = customers["tenure_day"].astype("int64")

    be_seen = bad_experiences_sql(resolution_days=r, source="seen")
    known = data.query(
        f"""WITH {_seen(lit)}
            SELECT b.customer_id, date_diff('day', {day0}, b.day) AS e,
                   date_diff('day', {day0}, b.resolved_on) AS c
            FROM ({be_seen}) b
            JOIN (SELECT customer_id FROM customers WHERE {active}) k ON k.customer_id = b.customer_id
            WHERE b.day >= {day0} - {w}
            ORDER BY b.customer_id, e, c"""
    )
    known["customer_id"] = known["customer_id"].astype(str)
    known["e"] = known["e"].astype("int64")
    known["c"] = known["c"].astype(float)

    # Exposure in days; microseconds summed as DOUBLE (a BIGINT sum overflows on Spark).
    exposure = data.query(
        f"""WITH c AS (
                SELECT signup_at AS s, signup_at + {early} AS m,
                       least(coalesce(churned_at, {lit}), {lit}) AS x
                FROM customers WHERE signup_at < {lit})
            SELECT sum(CAST(greatest(0, date_diff('microsecond', greatest(s, {p0_lit}), least(m, x))) AS DOUBLE))
                       / 86400e6 AS early,
                   sum(CAST(greatest(0, date_diff('microsecond', greatest(m, {p0_lit}), x)) AS DOUBLE))
                       / 86400e6 AS settled
            FROM c"""
    ).iloc[0]
    exposure_early = 0.0 if pd.isna(exposure["early"]) else float(exposure["early"])
    exposure_settled = 0.0 if pd.isna(exposure["settled"]) else float(exposure["settled"])

    rates = data.query(
        f"""WITH {_seen(lit)}
            SELECT i.touchpoint,
                   count(*) FILTER ("at" >= {p0_lit}) AS experiences,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad') AS bad,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad' AND "at" < k.signup_at + {early}) AS bad_early,
                   count(*) FILTER ("at" >= {p0_lit} AND outcome = 'bad' AND "at" >= k.signup_at + {early}) AS bad_settled
            FROM seen i JOIN customers k ON k.customer_id = i.customer_id
            WHERE i.kind = 'experience'
            GROUP BY i.touchpoint ORDER BY i.touchpoint"""
    )
    if rates.empty:
        raise DataError(f"no experience interactions before as_of {as_of}")
    for col in ("experiences", "bad", "bad_early", "bad_settled"):
        rates[col] = rates[col].astype("int64")
    rates["touchpoint"] = rates["touchpoint"].astype(str)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates["bad_rate"] = rates["bad"] / rates["experiences"].where(rates["experiences"] > 0)

    # Bad experiences of the period whose resolution window had closed, grouped by whether a
    # contact followed and by the delay to the resolving contact (NULL: never resolved).
    follow = data.query(
        f"""WITH {_seen(lit)},
            be AS ({be_seen}),
            contact AS (SELECT DISTINCT customer_id, touchpoint, CAST("at" AS DATE) AS day
                        FROM seen WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}'),
            closed AS (
                SELECT be.*, EXISTS (SELECT 1 FROM contact c WHERE c.customer_id = be.customer_id
                                     AND c.touchpoint = be.touchpoint AND c.day >= be.day AND c.day <= be.day + {r})
                             AS contacted
                FROM be WHERE be."at" >= {p0_lit} AND be.day + {r} < {day0})
            SELECT contacted OR resolved_on IS NOT NULL AS contacted,
                   date_diff('day', day, resolved_on) AS delay, count(*) AS n
            FROM closed GROUP BY ALL ORDER BY ALL"""
    )
    n = follow["n"].astype("int64")
    resolved = follow["delay"].notna()
    delay = follow.loc[resolved, "delay"].astype("int64").clip(0, r)
    delays = np.bincount(delay.to_numpy(), weights=n[resolved].to_numpy(), minlength=r + 1).astype(float)
    follow_up = {
        "bad": int(n.sum()),
        "contacted": int(n[follow["contacted"].astype(bool)].sum()),
        "resolved": int(n[resolved].sum()),
    }

    link = _first_response_link(data, lit, p0_lit, alpha=alpha)
    return Measured(
        as_of=as_of, customers=customers, known=known, rates=rates, exposure_early=exposure_early,
        exposure_settled=exposure_settled, follow_up=follow_up, delays=delays, first_response=link,
        window_days=w, resolution_days=r, early_days=int(early_days), rate_days=rate_days,
    )


def _first_response_link(data, lit: str, p0_lit: str, *, alpha: float, max_rows: int = 200_000) -> dict:
    """Logistic regression of *resolved* on log2(first response + 1 minute), within service channel.

    Past ``max_rows`` contacts, a sample: the ``max_rows`` with the smallest md5 of their id,
    a pseudo-random choice that is the same on every engine and every run.
    """
    frame = data.query(
        f"""SELECT channel, first_response_minutes AS frt, CAST(resolved AS INTEGER) AS resolved
            FROM interactions
            WHERE kind = 'service' AND touchpoint <> '{ROUTINE_TOUCHPOINT}' AND "at" < {lit} AND "at" >= {p0_lit}
              AND first_response_minutes IS NOT NULL AND resolved IS NOT NULL
            ORDER BY md5(interaction_id) LIMIT {int(max_rows)}"""
    )
    out = {"supported": False, "contacts": int(len(frame)), "slope": float("nan"), "se": float("nan"),
           "p_value": float("nan"), "odds_ratio_per_doubling": float("nan")}
    if len(frame) < 100 or frame["resolved"].nunique() < 2:
        out["reason"] = f"only {len(frame)} contacts with a first response time and an outcome"
        return out
    import statsmodels.api as sm

    x = np.log2(frame["frt"].to_numpy(dtype=float) + 1.0)
    dummies = pd.get_dummies(frame["channel"].astype(str), drop_first=False, dtype=float)
    X = np.column_stack([x, dummies.to_numpy()])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(frame["resolved"].to_numpy(dtype=float), X, family=sm.families.Binomial()).fit()
    except Exception as exc:  # pragma: no cover - a degenerate table
        out["reason"] = f"the regression failed: {exc}"
        return out
    slope, se = float(res.params[0]), float(res.bse[0])
    p = float(2 * stats.norm.sf(abs(slope / se))) if se > 0 else float("nan")
    out.update(slope=slope, se=se, p_value=p, odds_ratio_per_doubling=float(np.exp(slope)))
    out["_eta"] = np.asarray(X @ res.params, dtype=float)
    out["_x"] = x
    out["_frt"] = frame["frt"].to_numpy(dtype=float)
    lo, hi = np.exp(slope - 1.96 * se), np.exp(slope + 1.96 * se)
    measured = f"odds of resolution ×{np.exp(slope):.2f} per doubling of the first response (95% CI {lo:.2f}–{hi:.2f}, p = {p:.2g})"
    out["link"] = measured
    if p < alpha and slope < 0:
        out["supported"] = True
        out["reason"] = f"faster first responses resolve more often: {measured}"
    elif p < alpha:
        out["reason"] = f"slower first responses resolve more often in this data, not faster ones: {measured}"
    else:
        out["reason"] = f"no measurable link from first response time to resolution: {measured}"
    return out


def _resolution_after_cut(link: dict, cut: float, slope: float) -> float:
    """Change of the mean resolution probability when every first response is cut by ``cut``."""
    eta = link["_eta"]
    x_new = np.log2(link["_frt"] * (1.0 - cut) + 1.0)
    new = eta + slope * (x_new - link["_x"])
    return float(np.mean(_expit(new)) - np.mean(_expit(eta)))


def _expit(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------------------------------
# The closed form


@dataclass
class _Inputs:
    """What one evaluation needs: coefficients and rates (one draw, one scenario)."""

    log_a: np.ndarray  # segments × bands: log daily hazard without bad experiences
    log_hr_u: float
    log_hr_r: float
    lam_early: float  # bad experiences per customer-day, first early_days of tenure
    lam_settled: float
    q: float  # P(a bad experience gets resolved)
    delay: np.ndarray  # P(δ = 0..R | resolved)
    # per-touchpoint effects (a model with by_touchpoint): log HRs (touchpoints × unresolved, resolved)
    # and the scenario's settled rate of each touchpoint, which weighs them; None: log_hr_u/r as given
    log_hr_tp: np.ndarray | None = None
    lam_tp: np.ndarray | None = None


class _Engine:
    """Precomputed structure of the base; :meth:`run` gives expected months and survivors."""

    def __init__(self, measured: Measured, model, horizon_days: float):
        self.W = measured.window_days
        self.R = measured.resolution_days
        self.cap = int(model.count_cap)
        self.early = measured.early_days
        as_of = measured.as_of
        f0 = (as_of - as_of.normalize()) / pd.Timedelta(days=1)
        self.n_days = int(math.ceil(f0 + horizon_days - 1e-9))
        d = np.arange(self.n_days, dtype=float)
        self.x = np.clip(np.minimum(d + 1, f0 + horizon_days) - np.maximum(d, f0), 0.0, 1.0)  # exposure per day
        self.y = np.where(d == 0, 1.0 - f0, 1.0)  # share of each day in which future experiences can happen

        self.segments = list(model.segments_)
        seg_index = {s: i for i, s in enumerate(self.segments)}
        cust = measured.customers
        unknown = set(cust["segment"]) - set(seg_index)
        if unknown:
            raise DataError(f"segment(s) {sorted(unknown)} of active customers are not in the churn model")
        from cxlib.features import panel as _panel

        self.band_starts = np.asarray(_panel._check_bands(model.tenure_bands))
        self.tau_max = int(max(self.band_starts[-1], self.early))
        seg = cust["segment"].map(seg_index).to_numpy()
        tau = np.minimum(cust["tenure_day"].to_numpy(), self.tau_max)
        value = cust["monthly_value"].to_numpy(dtype=float)
        taus = np.arange(self.tau_max + 1)
        self.band = np.searchsorted(self.band_starts, taus[:, None] + np.arange(self.n_days)[None, :], side="right") - 1
        self.mu_class = np.minimum(taus, self.early)  # customers settled after early_days share the future rates

        # customers with a known bad experience reaching into the horizon
        self.Wk = min(self.W + 1, self.n_days)
        kn = measured.known
        kn = kn[kn["e"] + self.W >= 0]
        pos = pd.Index(cust["customer_id"]).get_indexer(kn["customer_id"])
        kn = kn[pos >= 0]
        pos = pos[pos >= 0]
        has = np.zeros(len(cust), dtype=bool)
        has[pos] = True
        self.k_rows = np.flatnonzero(has)
        row_of = np.full(len(cust), -1)
        row_of[self.k_rows] = np.arange(len(self.k_rows))
        ku = np.zeros((len(self.k_rows), self.Wk + 1), dtype=np.int64)
        kr = np.zeros_like(ku)
        e = kn["e"].to_numpy()
        c = kn["c"].to_numpy()
        resolved = ~np.isnan(c) & (c <= 0)  # known at as_of: resolved on a day before as_of's day (or that day)
        c_int = np.where(resolved, c, e + self.W).astype(np.int64)
        rows = row_of[pos]

        def add(arr, start, stop, rows_):  # +1 on days start..stop (relative, inclusive), clipped to 0..Wk-1
            lo = np.clip(start, 0, self.Wk)
            hi = np.clip(stop + 1, 0, self.Wk)
            ok = hi > lo
            np.add.at(arr, (rows_[ok], lo[ok]), 1)
            np.add.at(arr, (rows_[ok], hi[ok]), -1)

        add(ku, e + 1, c_int, rows)
        add(kr, c_int[resolved] + 1, e[resolved] + self.W, rows[resolved])
        ku = np.minimum(np.cumsum(ku, axis=1)[:, : self.Wk], self.cap)
        kr = np.minimum(np.cumsum(kr, axis=1)[:, : self.Wk], self.cap)
        # Customers with the same segment, tenure and day-by-day known counts share their
        # expected path exactly: one row per such group, weighted by its value and its size.
        key = np.column_stack([seg[self.k_rows], tau[self.k_rows], ku, kr])
        if len(key):
            key, group = np.unique(key, axis=0, return_inverse=True)
            group = group.ravel()
        else:
            group = np.zeros(0, dtype=np.int64)
        self.k_seg, self.k_tau = key[:, 0], key[:, 1]
        self.ku, self.kr = key[:, 2:2 + self.Wk], key[:, 2 + self.Wk:]
        self.k_value = np.bincount(group, weights=value[self.k_rows], minlength=len(key))
        self.k_count = np.bincount(group, minlength=len(key)).astype(float)
        self.n_groups = len(key)
        self.horizon_days = float(horizon_days)
        # per customer, for the Monte Carlo of what is actually retained (_process_noise)
        self.seg, self.tau, self.value = seg, tau, value
        self.known_events = (pos, e, np.where(resolved, c, np.nan))

        # everyone else, grouped by segment and tenure class
        rest = ~has
        n_seg = len(self.segments)
        self.V = np.zeros((n_seg, self.tau_max + 1))
        self.N = np.zeros_like(self.V)
        np.add.at(self.V, (seg[rest], tau[rest]), value[rest])
        np.add.at(self.N, (seg[rest], tau[rest]), 1.0)
        self.n_customers = len(cust)
        self.n_known = len(self.k_rows)

    # -- pieces ------------------------------------------------------------------------
    def _lag_probs(self, q: float, delay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """P(unresolved), P(resolved) on lag L = 0..W of an experience (lag 0: not counted yet)."""
        lag = np.arange(self.W + 1)
        cdf = np.cumsum(delay)  # P(δ <= k)
        p_le = np.where(lag - 1 >= 0, cdf[np.clip(lag - 1, 0, len(cdf) - 1)], 0.0)  # P(δ <= L-1)
        p_le = np.where(lag - 1 >= len(cdf) - 1, 1.0, p_le)
        pu = (1.0 - q) + q * (1.0 - p_le)
        pr = q * p_le
        pu[0] = pr[0] = 0.0
        return pu, pr

    def _means(self, inp: _Inputs) -> tuple[np.ndarray, np.ndarray]:
        """μ_U, μ_R per future-rate class (tenure 0..early_days) and day."""
        pu, pr = self._lag_probs(inp.q, inp.delay)
        n = self.n_days
        mu_u = np.empty((self.early + 1, n))
        mu_r = np.empty_like(mu_u)
        e = np.arange(n)
        for k in range(self.early + 1):
            lam = np.where(k + e < self.early, inp.lam_early, inp.lam_settled) * self.y
            mu_u[k] = np.convolve(lam, pu)[:n]
            mu_r[k] = np.convolve(lam, pr)[:n]
        return mu_u, mu_r

    @staticmethod
    def _pooled_log_hrs(inp: _Inputs) -> tuple[float, float]:
        """The log HRs of one future bad experience, pooled over touchpoints by the scenario's rates.

        With per-touchpoint effects, the future bad experiences of touchpoint ``t`` are an
        independent Poisson process of rate ``λ_t`` with its own HR ``h_t``. Below the cap, the
        expected multiplier of independent Poisson counts is ``Π exp(μ_t (h_t − 1)) =
        exp(μ (h̄ − 1))`` with ``μ = Σ μ_t`` and ``h̄ = Σ λ_t h_t / Σ λ_t``: one Poisson count with
        the rate-weighted HR, exact when the touchpoints share the timing of their rates. So a
        fix of touchpoint ``t`` is valued with ``h_t``: cutting ``λ_t`` moves ``h̄`` towards the
        other touchpoints' effects. Known bad experiences take the same ``h̄`` (they are the same
        in every scenario).
        """
        if inp.log_hr_tp is None:
            return inp.log_hr_u, inp.log_hr_r
        lam = np.asarray(inp.lam_tp, dtype=float)
        total = lam.sum()
        w = lam / total if total > 0 else np.full(len(lam), 1.0 / max(len(lam), 1))
        hr = np.exp(np.asarray(inp.log_hr_tp, dtype=float))
        return float(np.log(w @ hr[:, 0])), float(np.log(w @ hr[:, 1]))

    def _factor(self, mu: np.ndarray, log_hr: float) -> np.ndarray:
        """F[class, k, d] = E[HR^min(k + X, cap)], X ~ Poisson(mu[class, d]), k = 0..cap."""
        cap = self.cap
        x = np.arange(cap)
        pmf = stats.poisson.pmf(x[None, None, :], mu[:, :, None])  # class × day × x
        out = np.empty((mu.shape[0], cap + 1, mu.shape[1]))
        hr_pow = np.exp(log_hr * np.arange(cap + 1))
        for k in range(cap + 1):
            m = cap - k  # X < m stays below the cap
            if m == 0:
                out[:, k, :] = hr_pow[cap]
                continue
            below = pmf[:, :, :m]
            tail = np.clip(1.0 - below.sum(axis=2), 0.0, 1.0)
            out[:, k, :] = (below * hr_pow[k : k + m][None, None, :]).sum(axis=2) + tail * hr_pow[cap]
        return out

    def _prepare_known(self) -> None:
        """Flat indices of the known customers' cells, computed once (gathers are the cost of a run)."""
        Wk, n = self.Wk, self.n_days
        days = np.arange(Wk)[None, :]
        n_band = int(self.band.max()) + 1
        self._n_band = n_band
        self._ia = (self.k_seg[:, None] * n_band + self.band[self.k_tau][:, :Wk]).ravel()
        kc = self.mu_class[self.k_tau][:, None]
        self._iu = ((kc * (self.cap + 1) + self.ku) * n + days).ravel()
        self._ir = ((kc * (self.cap + 1) + self.kr) * n + days).ravel()

    def hazards(self, inp: _Inputs) -> tuple[np.ndarray, np.ndarray | None]:
        """Expected hazard of each day of the horizon, times the day's exposure.

        ``inc``: segments × tenure class × day, for the customers without a known bad
        experience; ``inck``: known customers × the first ``Wk`` days (their own path; after
        that they follow ``inc``).
        """
        mu_u, mu_r = self._means(inp)
        log_hr_u, log_hr_r = self._pooled_log_hrs(inp)
        Fu = self._factor(mu_u, log_hr_u)
        Fr = self._factor(mu_r, log_hr_r)
        cached = getattr(self, "_a_cache", None)
        if cached is None or cached[0] is not inp.log_a:  # the same coefficients serve every scenario of a draw
            a = np.exp(inp.log_a)  # seg × band
            if self.n_known and not hasattr(self, "_ia"):
                self._prepare_known()
            cached = (inp.log_a, a[:, self.band], a.ravel()[self._ia] if self.n_known else None)
            self._a_cache = cached
        _, a_band, a_known = cached
        mc = self.mu_class
        g = Fu[mc, 0, :] * Fr[mc, 0, :]  # tau × day: no known bad experience (k = 0)
        inc = a_band * (g * self.x)[None, :, :]  # seg × tau × day: cumulative hazard of each day
        inck = None
        if self.n_known:
            shape = (self.n_groups, self.Wk)
            hk = a_known.reshape(shape) * Fu.ravel()[self._iu].reshape(shape) * Fr.ravel()[self._ir].reshape(shape)
            inck = hk * self.x[None, : self.Wk]
        return inc, inck

    def run(self, inp: _Inputs) -> tuple[float, float]:
        """Expected value-weighted months retained over the horizon, and expected survivors at its end.

        Within a day the hazard is constant, so the time alive in it is ``x·exp(-C - h·x/2)``
        to second order (midpoint rule; the error is below 1e-6 of a day for daily hazards of
        churn).
        """
        inc, inck = self.hazards(inp)
        C = np.cumsum(inc, axis=2)
        I = np.exp(-(C - 0.5 * inc)) * self.x  # days alive within each day
        months = I.sum(axis=2) / MONTH_DAYS
        C_end = C[:, :, -1]
        value_months = float((self.V * months).sum())
        survivors = float((self.N * np.exp(-C_end)).sum())
        if self.n_known:
            Wk = self.Wk
            Ck = np.cumsum(inck, axis=1)
            Ik = np.exp(-(Ck - 0.5 * inck)) * self.x[None, :Wk]
            lam_w = Ck[:, -1]
            # after the known experiences have left the window: the common path from day Wk on,
            # restarted from the customer's own cumulative hazard at Wk
            C_w = C[:, :, Wk - 1]  # seg × tau, cumulative hazard of the common path at the start of day Wk
            tail = I[:, :, Wk:].sum(axis=2) * np.exp(C_w)  # seg × tau
            s, t = self.k_seg, self.k_tau
            months_k = (Ik.sum(axis=1) + np.exp(-lam_w) * tail[s, t]) / MONTH_DAYS
            surv_k = np.exp(-lam_w - (C_end - C_w)[s, t])
            value_months += float((self.k_value * months_k).sum())
            survivors += float((self.k_count * surv_k).sum())
        return value_months, survivors

    def run_multiplied(self, inp: _Inputs, multipliers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`run` with every customer's hazard multiplied, day by day, by each row of ``multipliers``.

        ``multipliers``: K × ``Wk`` (days 0 … Wk-1 of the horizon; 1 after). Row k is what one
        more bad experience does to the hazard (its hazard ratio on the days it counts), so
        ``run(inp)`` minus row k's value is what that experience costs. Returns the value-weighted
        months and the survivors, one per row.
        """
        M = np.asarray(multipliers, dtype=float)
        Wk = self.Wk
        if M.ndim != 2 or M.shape[1] != Wk:
            raise ValueError(f"multipliers must be K × {Wk}, not {M.shape}")
        inc, inck = self.hazards(inp)
        C = np.cumsum(inc, axis=2)
        I = np.exp(-(C - 0.5 * inc)) * self.x
        C_w, C_end = C[:, :, Wk - 1], C[:, :, -1]
        after = I[:, :, Wk:].sum(axis=2) * np.exp(C_w)  # alive after Wk, per unit survival at Wk
        x = self.x[:Wk]
        value_months = np.empty(len(M))
        survivors = np.empty(len(M))
        for k, m in enumerate(M):
            inc_w = inc[:, :, :Wk] * m
            Cw = np.cumsum(inc_w, axis=2)
            lam = Cw[:, :, -1]
            months = ((np.exp(-(Cw - 0.5 * inc_w)) * x).sum(axis=2) + np.exp(-lam) * after) / MONTH_DAYS
            value_months[k] = float((self.V * months).sum())
            survivors[k] = float((self.N * np.exp(-lam - (C_end - C_w))).sum())
            if self.n_known:
                ik = inck * m
                Ck = np.cumsum(ik, axis=1)
                lam_k = Ck[:, -1]
                s, t = self.k_seg, self.k_tau
                months_k = ((np.exp(-(Ck - 0.5 * ik)) * x).sum(axis=1) + np.exp(-lam_k) * after[s, t]) / MONTH_DAYS
                value_months[k] += float((self.k_value * months_k).sum())
                survivors[k] += float((self.k_count * np.exp(-lam_k - (C_end - C_w)[s, t])).sum())
        return value_months, survivors


def _process_noise(engine: _Engine, inp: _Inputs, scenario_inputs: list, lam_tp: np.ndarray, cuts: list,
                   max_futures: int, rng: np.random.Generator, *, draws: int, expected_var=None, step_days: int = 7,
                   batch: int = 10, tol: float = 0.02, max_rows: int = 400_000) -> tuple[np.ndarray, int, int]:
    """What this base actually retains varies around its expectation: a Monte Carlo of that spread.

    A future of a customer (at the point estimates) draws its bad experiences (per
    touchpoint, Poisson), their resolution and delay, and a churn threshold ~ Exp(1); the churn
    time is where the cumulative hazard crosses it. Baseline and scenarios share every draw
    (common random numbers: a cut removes the experiences whose uniform falls below the cut,
    a resolution target resolves those whose uniform falls below ``q``). Counts are taken at
    the middle of ``step_days``-day steps.

    Customers are independent, and customers with the same **known history** — segment, the
    steps at which their tenure enters a new band, and their known bad experiences as the
    steps on which they count unresolved and resolved — have the same distribution of
    months retained. So the futures are drawn per distinct history, not per customer: the
    covariance (over scenarios) of a history's *difference* from the baseline, weighted by
    the sum of its customers' squared monthly values, summed over histories, is the
    covariance of the base's realised difference (a sum of many independent customers:
    normal). The cost grows with the number of distinct histories, not with the base.

    Futures are added ``batch`` at a time, up to ``max_futures`` per history, until the
    interval has converged: the spread of every scenario's realised value (``expected_var``,
    the variance of its expected value over the parameter draws, plus the process variance)
    moves by less than ``tol`` (relative) from one batch to the next. Returns ``draws`` residuals (draws × scenarios,
    NaN for scenarios that are not estimable) of the value-weighted months, the futures
    drawn per history and the number of histories.
    """
    W, cap, H = engine.W, engine.cap, engine.horizon_days
    n_steps = int(math.ceil(H / step_days))
    starts = np.arange(n_steps) * step_days
    length = np.minimum(starts + step_days, H) - starts
    mid = starts + 0.5 * length
    J = len(scenario_inputs)
    ok = np.array([q is not None for q in scenario_inputs], dtype=bool)
    out = np.full((int(draws), J), np.nan)
    if not ok.any() or max_futures < 1:
        return out, 0, 0

    # -- distinct known histories
    taus = np.arange(engine.tau_max + 1)
    band_rows = np.searchsorted(engine.band_starts, taus[:, None] + mid[None, :], side="right") - 1
    band_sig, tau_class = np.unique(band_rows, axis=0, return_inverse=True)
    tau_class = tau_class.ravel()
    n = len(engine.value)
    pos, ke, kc = engine.known_events
    kres = ~np.isnan(kc)
    kend = np.where(kres, kc, ke + W)
    lo_u = np.searchsorted(mid, ke + 1, side="left")
    hi_u = np.searchsorted(mid, kend, side="right")
    lo_r = np.searchsorted(mid, kend + 1, side="left")
    hi_r = np.where(kres, np.searchsorted(mid, ke + W, side="right"), lo_r)
    counts_u, counts_r = hi_u > lo_u, hi_r > lo_r
    live = counts_u | counts_r  # known events that still count on some step of the horizon
    S1 = n_steps + 1
    code = (((np.where(counts_u, lo_u, 0) * S1 + np.where(counts_u, hi_u, 0)) * S1
             + np.where(counts_r, lo_r, 0)) * S1 + np.where(counts_r, hi_r, 0))[live]
    p_live = pos[live]
    order = np.lexsort((code, p_live))
    p_live, code = p_live[order], code[order]
    per = np.bincount(p_live, minlength=n)
    width = int(per.max()) if len(per) else 0
    key = np.full((n, 2 + width), -1, dtype=np.int64)
    key[:, 0] = engine.seg
    key[:, 1] = tau_class[engine.tau]
    if width:
        first = np.concatenate([[0], np.cumsum(per)[:-1]])
        slot = np.arange(len(p_live)) - first[p_live]
        key[p_live, 2 + slot] = code
    hist, group = np.unique(key, axis=0, return_inverse=True)
    group = group.ravel()
    G = len(hist)
    weight = np.bincount(group, weights=engine.value ** 2, minlength=G)  # Σ value² per history
    U0 = np.zeros((G, S1), dtype=np.int64)
    R0 = np.zeros_like(U0)
    for col in range(width):
        c = hist[:, 2 + col]
        g = np.flatnonzero(c >= 0)
        c = c[g]
        hr, c = c % S1, c // S1
        lr, c = c % S1, c // S1
        hu, lu = c % S1, c // S1
        for arr, lo, hi in ((U0, lu, hu), (R0, lr, hr)):
            m = hi > lo
            np.add.at(arr, (g[m], lo[m]), 1)
            np.add.at(arr, (g[m], hi[m]), -1)
    log_base_g = inp.log_a[hist[:, 0][:, None], band_sig[hist[:, 1]]]  # G × steps
    delay_cdf = np.cumsum(inp.delay)
    n_tp = len(lam_tp)
    qs = [inp.q] + [scenario_inputs[j] for j in np.flatnonzero(ok)]
    cut_list = [np.zeros(n_tp)] + [np.asarray(cuts[j]) for j in np.flatnonzero(ok)]

    def months(gid, events, q, cut, threshold):
        """Days retained over the horizon of each future (rows: one future of history ``gid``)."""
        rows_e, e, tp, u_keep, u_res, delta = events
        m = len(gid)
        U = U0[gid].copy()
        R = R0[gid].copy()
        kept = u_keep >= cut[tp]
        res = kept & (u_res < q)
        end = np.where(res, e + delta, e + W)
        for arr, sel, a, b in ((U, kept, e + 1, end), (R, res, end + 1, e + W)):
            lo = np.searchsorted(mid, a[sel], side="left")
            hi = np.searchsorted(mid, b[sel], side="right")
            good = hi > lo
            r = rows_e[sel][good]
            np.add.at(arr, (r, lo[good]), 1)
            np.add.at(arr, (r, hi[good]), -1)
        U = np.minimum(np.cumsum(U, axis=1)[:, :n_steps], cap)
        R = np.minimum(np.cumsum(R, axis=1)[:, :n_steps], cap)
        inc = np.exp(log_base_g[gid] + inp.log_hr_u * U + inp.log_hr_r * R) * length[None, :]
        C = np.cumsum(inc, axis=1)
        crossed = C[:, -1] >= threshold
        k = np.argmax(C >= threshold[:, None], axis=1)
        ar = np.arange(m)
        before = np.where(k > 0, C[ar, np.maximum(k - 1, 0)], 0.0)
        t = starts[k] + (threshold - before) / (inc[ar, k] / length[k])
        return np.where(crossed, np.minimum(t, H), H)

    n_ok = int(ok.sum())
    s1 = np.zeros((G, n_ok))
    s2 = np.zeros((G, n_ok, n_ok))
    futures, previous = 0, None
    chunk = max(1, int(max_rows) // max(1, min(batch, max_futures)))
    while futures < max_futures:
        k = min(batch, max_futures - futures)
        for g0 in range(0, G, chunk):
            g1 = min(G, g0 + chunk)
            gid = np.repeat(np.arange(g0, g1), k)
            m = len(gid)
            counts = rng.poisson(lam_tp[None, :] * H, size=(m, n_tp))
            rows_e = np.repeat(np.repeat(np.arange(m), n_tp), counts.ravel())
            tp = np.tile(np.arange(n_tp), m).repeat(counts.ravel())
            e = np.floor(rng.random(len(rows_e)) * H)
            u_keep, u_res, u_delay = rng.random((3, len(rows_e)))
            delta = np.minimum(np.searchsorted(delay_cdf, u_delay, side="right"), len(delay_cdf) - 1)
            threshold = rng.standard_exponential(m)
            events = (rows_e, e, tp, u_keep, u_res, delta)
            base = months(gid, events, qs[0], cut_list[0], threshold)
            diff = np.column_stack([months(gid, events, q, c, threshold) - base for q, c in zip(qs[1:], cut_list[1:])])
            d = diff.reshape(g1 - g0, k, n_ok)  # rows are history-major: k futures of each history
            s1[g0:g1] += d.sum(axis=1)
            s2[g0:g1] += np.einsum("gki,gkj->gij", d, d)
        futures += k
        mean = s1 / futures
        cov_g = s2 / futures - mean[:, :, None] * mean[:, None, :]
        if futures > 1:
            cov_g *= futures / (futures - 1)
        cov = np.einsum("g,gij->ij", weight, cov_g) / MONTH_DAYS**2
        sd = np.sqrt(np.clip(np.diag(cov), 0, None) + (0.0 if expected_var is None else np.asarray(expected_var)))
        if previous is not None and np.all(np.abs(sd - previous) <= tol * np.maximum(sd, 1e-12)):
            break
        previous = sd
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0, None))[None, :]
    out[:, ok] = rng.standard_normal((int(draws), n_ok)) @ root.T
    return out, futures, G


def _log_a(model, beta: pd.Series, effective_band: list[str]) -> np.ndarray:
    """log daily hazard without bad experiences, segments × tenure bands, for coefficients ``beta``.

    A model adjusted for engagement has a baseline per experience-rate band; the base is a
    mix of them, so the hazard is averaged over the bands, weighted by their exposure in the
    model's panel (the base's engagement mix, not that of the reference band).
    """
    rows = []
    shift = _engagement_shift(model, beta)
    for s in model.segments_:
        rows.append(
            [
                beta["baseline"] + shift + beta.get(f"segment[{s}]", 0.0) + beta.get(f"tenure[{b}]", 0.0)
                for b in effective_band
            ]
        )
    return np.asarray(rows, dtype=float)


def _engagement_shift(model, beta: pd.Series) -> float:
    """log of the exposure-weighted mean hazard ratio of the engagement bands (0 without them)."""
    levels = getattr(model, "engagement_levels_", None)
    panel = getattr(model, "panel_", None)
    if not getattr(model, "engagement", False) or not levels or panel is None or "engagement" not in panel:
        return 0.0
    exposure = panel.groupby("engagement")["exposure_days"].sum()
    w = np.array([exposure.get(k, 0.0) for k in levels], dtype=float)
    if w.sum() <= 0:
        return 0.0
    hr = np.array([np.exp(beta.get(f"engagement[{label}]", 0.0)) for label in levels.values()])
    return float(np.log((w / w.sum()) @ hr))


def _effective_bands(model) -> tuple[list[str], list[str]]:
    """Each tenure band's label to take coefficients from; notes on the bands that borrow."""
    from cxlib.features import panel as _panel

    labels = _panel.tenure_labels(model.tenure_bands)
    events = model.panel_.groupby("tenure_band")["events"].sum() if hasattr(model, "panel_") else pd.Series(dtype=float)
    out, notes, known = [], [], None
    for label in labels:
        ok = label in model.tenure_labels_ and (events.get(label, 0) >= MIN_BAND_EVENTS or label == model.reference_["tenure_band"])
        if ok or known is None:
            known = label if label in model.tenure_labels_ else (known or model.reference_["tenure_band"])
        if not ok:
            notes.append(
                f"tenure band {label} had {int(events.get(label, 0))} churn events before as_of: "
                f"customers reaching it take the hazard of {known}"
            )
        out.append(known)
    return out, notes


# ---------------------------------------------------------------------------------------
# Evaluation


@dataclass
class ROIResult:
    """What :func:`evaluate` returns: one row per scenario, the draws, and the settings."""

    scenarios: list[Scenario]
    table: pd.DataFrame
    draws: pd.DataFrame
    beats: pd.DataFrame
    baseline: dict
    rates: pd.DataFrame
    settings: dict
    notes: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.settings["currency"]

    def recommendation(self) -> str:
        return recommendation(self)

    def to_dict(self) -> dict:
        """JSON-able: settings, baseline, measured rates, scenarios, pairwise probabilities, recommendation."""
        def clean(v):
            if isinstance(v, (np.floating, float)):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, (np.integer,)):
                return int(v)
            if isinstance(v, (np.bool_,)):
                return bool(v)
            return v

        rows = [{k: clean(v) for k, v in row.items()} for row in self.table.to_dict(orient="records")]
        by_name = {s.name: s for s in self.scenarios}
        for row in rows:
            row["change"] = by_name[row["scenario"]].change
            row["description"] = by_name[row["scenario"]].description
        return {
            "settings": {k: clean(v) for k, v in self.settings.items()},
            "baseline": {k: clean(v) for k, v in self.baseline.items()},
            "rates": [{k: clean(v) for k, v in r.items()} for r in self.rates.to_dict(orient="records")],
            "scenarios": rows,
            "beats": {a: {b: clean(p) for b, p in row.items()} for a, row in self.beats.to_dict(orient="index").items()},
            "recommendation": recommendation(self),
            "notes": list(self.notes),
        }


def _touchpoint_log_hrs(model, beta: pd.Series, touchpoints: list[str]) -> np.ndarray | None:
    """Touchpoints × (unresolved, resolved) log HRs of a per-touchpoint model for coefficients ``beta``.

    None for a model with pooled terms. A touchpoint without a term of its own (no bad
    experience of it when the model was fitted) takes the mean of the others.
    """
    if not getattr(model, "by_touchpoint", False):
        return None
    out = np.full((len(touchpoints), 2), np.nan)
    for i, tp in enumerate(touchpoints):
        for j, kind in enumerate(("unresolved", "resolved")):
            try:
                out[i, j] = float(beta[model.count_term(kind, tp)])
            except KeyError:
                pass
    means = np.nanmean(out, axis=0)
    return np.where(np.isnan(out), means[None, :], out)


def _pooled_terms(model, beta: pd.Series, touchpoints: list[str], lam_tp) -> tuple[float, float, dict]:
    """(log HR unresolved, log HR resolved, extra _Inputs fields) of one draw of the coefficients."""
    tp = _touchpoint_log_hrs(model, beta, touchpoints)
    if tp is None:
        return float(beta["unresolved"]), float(beta["resolved"]), {}
    extra = {"log_hr_tp": tp, "lam_tp": np.asarray(lam_tp, dtype=float)}
    u, r = _Engine._pooled_log_hrs(_Inputs(log_a=np.zeros(0), log_hr_u=0.0, log_hr_r=0.0, lam_early=0.0,
                                           lam_settled=0.0, q=0.0, delay=np.zeros(1), **extra))
    return u, r, extra


def _pooled_hr(model, beta: pd.Series, touchpoints: list[str], lam_tp, kind: str) -> float:
    """The pooled hazard ratio of ``kind`` for the result's record; NaN when the model could not estimate it."""
    missing = getattr(model, "not_estimable_", None) or {}
    if any(t.partition("[")[0] == kind for t in missing):
        return float("nan")
    u, r, _ = _pooled_terms(model, beta, touchpoints, lam_tp)
    return float(np.exp(u if kind == "unresolved" else r))


def _scenario_inputs(sc: Scenario, measured: Measured, lam_tp_early, lam_tp_settled, c, r, link_slope,
                     per_touchpoint: bool = False):
    """(λ_early, λ_settled, q) after the scenario, for one draw of the measured rates.

    ``per_touchpoint``: also the settled rate of each touchpoint after it (a fourth item),
    which weighs per-touchpoint effects (:meth:`_Engine._pooled_log_hrs`).
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
            r = float(np.clip(r + _resolution_after_cut(measured.first_response, ch["first_response_cut"], link_slope), 0, 1))
    out = (float(early.sum()), float(settled.sum()), float(np.clip(c * r, 0.0, 1.0)))
    return (*out, settled) if per_touchpoint else out


def _not_estimable_terms(sc: Scenario, model, resolved_share: float) -> list[str]:
    """The terms a scenario's value rests on that the churn model could not estimate (``not_estimable_``).

    A scenario's value rests on the hazard ratios of the bad experiences it moves: a service
    scenario turns unresolved ones into resolved ones (both ratios); an experience scenario
    removes bad experiences, unresolved and, where some get resolved, resolved ones. A level
    without churn events (a segment, tenure or engagement band) only shifts the baseline of
    its customers: :func:`evaluate` notes it rather than giving up the scenario.
    """
    missing = getattr(model, "not_estimable_", None) or {}
    kinds = ("unresolved", "resolved") if sc.kind == "service" or resolved_share > 0 else ("unresolved",)
    return [t for t in missing if t.partition("[")[0] in kinds]


def _check_scenarios(scenarios: list[Scenario], measured: Measured) -> None:
    known = measured.touchpoints
    for sc in scenarios:
        tp = sc.change.get("touchpoint")
        if sc.kind == "experience" and tp != ALL_TOUCHPOINTS and tp not in known:
            raise ValueError(
                f"scenario {sc.name!r}: unknown touchpoint {tp!r}; the data's touchpoints are: {', '.join(known)} "
                f"(or {ALL_TOUCHPOINTS!r})"
            )


@dataclass
class Prepared:
    """What :func:`evaluate` derives from the data and the model before any scenario: made once.

    The measured base and rates, the fitted model, the engine's precomputed structure of the
    base, and the draws of every uncertain input (row 0: the point estimates). A scenario
    changes only the bad-experience rates and the resolved share, so :meth:`run` keeps each
    evaluation it made by draw and inputs: a second scenario with the same inputs (the
    baseline, a slider moved back) costs nothing. :func:`prepare` builds it,
    :func:`evaluate_prepared` evaluates scenarios on it; :func:`evaluate` is the two in one.
    """

    measured: Measured
    model: object
    engine: _Engine
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
    fitted_here: bool = False  # the model was fitted by prepare, not given
    _runs: dict = field(default_factory=dict, repr=False)
    _log_a: dict = field(default_factory=dict, repr=False)

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
            fitted_here=self.fitted_here, _runs=self._runs, _log_a=self._log_a,
        )

    def inputs(self, b: int, lam_early: float, lam_settled: float, q: float, lam_tp=None) -> _Inputs:
        """The engine's inputs on draw ``b`` with these future rates.

        ``lam_tp``: the settled rate of each touchpoint after the scenario (default: the base's),
        which weighs the per-touchpoint effects of a model that has them (an experience fix of a
        touchpoint is valued with that touchpoint's effect).
        """
        beta = pd.Series(self.betas[b], index=self.cols)
        if b not in self._log_a:
            self._log_a[b] = _log_a(self.model, beta, self.effective_band)
        tp = _touchpoint_log_hrs(self.model, beta, self.measured.touchpoints)
        extra = {} if tp is None else {
            "log_hr_tp": tp, "lam_tp": np.asarray(self.lam_s[b] if lam_tp is None else lam_tp, dtype=float)}
        return _Inputs(log_a=self._log_a[b], log_hr_u=self.log_hr(b, "unresolved"),
                       log_hr_r=self.log_hr(b, "resolved"), lam_early=lam_early,
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
        key = (b, lam_early, lam_settled, q, None if lam_tp is None else tuple(np.asarray(lam_tp, dtype=float)))
        if key not in self._runs:
            self._runs[key] = self.engine.run(self.inputs(b, lam_early, lam_settled, q, lam_tp))
        return self._runs[key]


def prepare(
    data,
    *,
    model=None,
    as_of=None,
    horizon_months: float = 12,
    draws: int = 400,
    seed: int = 0,
    alpha: float = 0.05,
    window_days: int = WINDOW_DAYS,
    resolution_days: int = RESOLUTION_DAYS,
    rate_days: int | None = 365,
    early_days: int = 7,
) -> Prepared:
    """The measured base, the model and the draws of :func:`evaluate`, ready for any scenario.

    The arguments are :func:`evaluate`'s; what-if controls prepare once and evaluate at every
    move of a slider (:func:`evaluate_prepared`), with no refit and no query.
    """
    from cxlib.models.churn import ChurnModel

    if not horizon_months > 0:
        raise ValueError(f"horizon_months must be > 0, not {horizon_months}")
    draws = int(draws)
    if draws < 1:
        raise ValueError(f"draws must be >= 1, not {draws}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
    measured = measure(data, as_of=as_of, window_days=window_days, resolution_days=resolution_days,
                       rate_days=rate_days, early_days=early_days, alpha=alpha)
    fitted_here = model is None
    if model is None:
        model = ChurnModel(window_days=window_days, resolution_days=resolution_days).fit(data, as_of=measured.as_of)
    elif (int(model.window_days), int(model.resolution_days)) != (measured.window_days, measured.resolution_days):
        raise ValueError("the churn model was fitted with other window_days or resolution_days")
    if not hasattr(model, "params_"):
        from cxlib.exceptions import NotFittedError

        raise NotFittedError("the churn model is not fitted yet: call fit(data) first")
    notes: list[str] = []
    model_as_of = getattr(model, "as_of_", None)
    if model_as_of is not None and pd.Timestamp(model_as_of) > measured.as_of:
        notes.append(f"the churn model was fitted on data up to {model_as_of}, after as_of {measured.as_of}")

    horizon_days = float(horizon_months) * MONTH_DAYS
    engine = _Engine(measured, model, horizon_days)
    effective_band, band_notes = _effective_bands(model)
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
        slope_draw=slope_draw, c_hat=float(c_hat), r_hat=float(r_hat), fitted_here=fitted_here,
    )


def evaluate(
    data,
    scenarios=None,
    *,
    model=None,
    as_of=None,
    horizon_months: float = 12,
    draws: int = 400,
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
    list of :class:`Scenario`. ``model``: a fitted :class:`~cxlib.models.churn.ChurnModel` (fitted
    here on data up to ``as_of`` when ``None``; a given model must use the same window and
    resolution days). Money is counted over ``horizon_months`` for the customers active at
    ``as_of``; yearly costs are prorated to the horizon. See the module docstring for the method.

    Up to ``process_draws`` futures per distinct known history (a Monte Carlo,
    :func:`_process_noise`, stopped when its spread has converged) add the spread of what is
    *actually* retained to the interval of the expected value: the columns ``realised_low``
    and ``realised_high`` (0 skips it); ``settings["process_draws_used"]`` says how many
    futures were drawn.

    The same as :func:`prepare` followed by :func:`evaluate_prepared`.
    """
    scenario_list, currency = _scenario_list(scenarios, currency)
    prepared = prepare(data, model=model, as_of=as_of, horizon_months=horizon_months, draws=draws, seed=seed,
                       alpha=alpha, window_days=window_days, resolution_days=resolution_days, rate_days=rate_days,
                       early_days=early_days)
    return evaluate_prepared(prepared, scenario_list, currency=currency, process_draws=process_draws,
                             progress=progress)


def _scenario_list(scenarios, currency: str | None) -> tuple[list[Scenario], str]:
    if isinstance(scenarios, list) and scenarios and all(isinstance(s, Scenario) for s in scenarios):
        scenario_list, file_currency = list(scenarios), "EUR"
    else:
        scenario_list, file_currency = load_scenarios(scenarios)
    return scenario_list, currency or file_currency


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
    scenario_list, currency = _scenario_list(scenarios, currency)
    p = prepared
    measured, model, engine, effective_band = p.measured, p.model, p.engine, p.effective_band
    horizon_months, horizon_days, alpha, seed, B = p.horizon_months, p.horizon_days, p.alpha, p.seed, p.draws
    rate_days = p.rate_days
    _check_scenarios(scenario_list, measured)
    fitted_here = p.fitted_here  # said in settings["churn_model"]: a run passes the model it fitted once
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
        terms = _not_estimable_terms(sc, model, c_hat * r_hat)
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
    iterator = range(B + 1)
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(iterator, desc="roi draws", unit="draw")
    per_tp = bool(getattr(model, "by_touchpoint", False))
    for b in iterator:
        v0, s0 = p.run(b, *p.base_rates(b))
        base_value[b], base_surv[b] = v0, s0
        for j, sc in enumerate(scenario_list):
            if not estimable[sc.name][0]:
                continue
            le, ls, q, lam_tp = _scenario_inputs(sc, measured, lam_e[b], lam_s[b], c_draw[b], r_draw[b], slope_draw[b],
                                                 per_touchpoint=True)
            v, s = p.run(b, le, ls, q, lam_tp if per_tp else None)
            value[b, j] = v - v0
            saved[b, j] = s - s0

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
                q_point.append(_scenario_inputs(sc, measured, lam_e[0], lam_s[0], c_hat, r_hat, slope_draw[0])[2])
            cuts.append(cut)
        hu0, hr0, _ = _pooled_terms(model, beta0, measured.touchpoints, lam_s[0])
        point = _Inputs(log_a=_log_a(model, beta0, effective_band), log_hr_u=hu0,
                        log_hr_r=hr0, lam_early=float(lam_e[0].sum()),
                        lam_settled=float(lam_s[0].sum()), q=float(np.clip(c_hat * r_hat, 0, 1)), delay=delay_draw[0])
        ok_futures = [q is not None for q in q_point]
        resid_v, futures_used, histories = _process_noise(engine, point, q_point, lam_s[0], cuts, int(process_draws),
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
        row = {"scenario": sc.name, "kind": sc.kind, "what": sc.describe(), "yearly_cost": sc.yearly_cost,
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
    rate_table = _rates_frame(measured, c_hat, r_hat, link)
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
        "hr_unresolved": _pooled_hr(model, beta0, measured.touchpoints, lam_s[0], "unresolved"),
        "hr_resolved": _pooled_hr(model, beta0, measured.touchpoints, lam_s[0], "resolved"),
        "method": "closed form: expected hazard from Poisson thinning, survival exp(-∫E[h]) per customer",
        "process_draws": int(process_draws or 0),
        "process_draws_used": int(futures_used),
        "churn_model": "fitted by roi.evaluate" if fitted_here else "given",
        "known_histories": int(histories),
    }
    return ROIResult(scenario_list, table, draw_frame, beats, baseline, rate_table, settings, notes)


def _rates_frame(measured: Measured, c_hat: float, r_hat: float, link: dict) -> pd.DataFrame:
    rows = []
    ex = measured.exposure_early + measured.exposure_settled
    for t in measured.rates.itertuples():
        rows.append({"measure": f"bad experiences at {t.touchpoint} per customer-month",
                     "value": t.bad / ex * MONTH_DAYS if ex else np.nan, "n": int(t.bad)})
    f = measured.follow_up
    rows.append({"measure": "contact share (bad experiences followed by a contact in time)", "value": c_hat, "n": f["bad"]})
    rows.append({"measure": "resolution rate (of those contacts)", "value": r_hat, "n": f["contacted"]})
    rows.append({"measure": "resolved share of bad experiences", "value": c_hat * r_hat, "n": f["bad"]})
    rows.append({"measure": "first response → resolution: odds ratio per doubling",
                 "value": link.get("odds_ratio_per_doubling", np.nan), "n": link.get("contacts", 0)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Tables and words


def roi_table(result: ROIResult) -> pd.DataFrame:
    """The full table as text a manager reads: one row per scenario, every figure with its interval."""
    t = result.table
    cur = result.currency
    level = f"{100 * (1 - result.settings['alpha']):.0f}%"
    months = f"{result.settings['horizon_months']:g} months"
    out = pd.DataFrame({
        "scenario": t["scenario"],
        "kind": t["kind"],
        "what it changes": t["what"],
        "yearly cost": [money(v, cur) for v in t["yearly_cost"]],
        f"churn avoided, customers ({level} interval)": [
            "not estimable" if not ok else f"{v:.1f} ({lo:.1f} to {hi:.1f})"
            for ok, v, lo, hi in zip(t["estimable"], t["churn_avoided"], t["churn_avoided_low"], t["churn_avoided_high"])],
        f"revenue retained over {months}": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["retained_revenue"], t["retained_revenue_low"], t["retained_revenue_high"])],
        "net benefit": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["net_benefit"], t["net_benefit_low"], t["net_benefit_high"])],
        "ROI": [_roi_text(ok, v, lo, hi) for ok, v, lo, hi in zip(t["estimable"], t["roi"], t["roi_low"], t["roi_high"])],
        "break-even yearly cost": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["break_even_cost"], t["break_even_cost_low"], t["break_even_cost_high"])],
        "P(net benefit > 0)": [pct(p, 0) for p in t["p_positive"]],
        "P(best)": [pct(p, 0) for p in t["p_best"]],
    })
    return out.set_index("scenario")


def _roi_text(ok, v, lo, hi) -> str:
    if not ok:
        return "not estimable"
    if not np.isfinite(v):
        return "– (no cost)"
    def pct(x):
        text = f"{100 * x:.0f}"
        return ("0" if text == "-0" else text).replace("-", "−") + "%"

    return f"{pct(v)} ({pct(lo)} to {pct(hi)})"


def rates_table(result: ROIResult) -> pd.DataFrame:
    """The measured rates the scenarios change, as text: rates with three significant figures, shares in %."""
    r = result.rates
    per = "per customer-month"
    measures = [m.replace(per, "per 1,000 customers a month") for m in r["measure"]]
    values = [pct(v) if ("share" in m or "rate (" in m) else "–" if not np.isfinite(v)
              else f"{1000 * v:,.1f}" if per in m else f"{v:.2f}" for m, v in zip(r["measure"], r["value"])]
    out = pd.DataFrame({"value": values, "based on": r["n"].map("{:,}".format).to_numpy()},
                       index=pd.Index(measures))
    out.columns.name = "measured before the analysis date"
    return out


def beats_table(result: ROIResult) -> pd.DataFrame:
    """P(row's net benefit > column's), over the draws, as percentages."""
    out = result.beats.map(lambda p: pct(p, 0))
    out.columns.name, out.index.name = "beats →", None  # one header row
    return out


def side_by_side(result: ROIResult) -> pd.DataFrame:
    """The small table for the executive summary: scenario, kind, net benefit (interval), ROI, P(best)."""
    t = result.table
    cur = result.currency
    return pd.DataFrame({
        "scenario": t["scenario"],
        "kind": t["kind"],
        f"net benefit over {result.settings['horizon_months']:g} months": [
            money_interval(v, lo, hi, cur) if ok else "not estimable"
            for ok, v, lo, hi in zip(t["estimable"], t["net_benefit"], t["net_benefit_low"], t["net_benefit_high"])],
        "ROI": [_roi_text(ok, v, lo, hi) if ok else "not estimable"
                for ok, v, lo, hi in zip(t["estimable"], t["roi"], t["roi_low"], t["roi_high"])],
        "probability of being best": [pct(p, 0) for p in t["p_best"]],
    }).set_index("scenario")


def recommendation(result: ROIResult, *, level: float | None = None) -> str:
    """A plain-words recommendation that says when the evidence does not separate the options.

    ``level``: how sure "better" must be (default ``1 - alpha``, 95%), as the share of draws.
    """
    level = 1 - result.settings["alpha"] if level is None else level
    t = result.table
    cur = result.currency
    months = f"{result.settings['horizon_months']:g} months"
    ok = t[t["estimable"]].sort_values("net_benefit", ascending=False)
    out = []
    if ok.empty:
        out.append("No scenario could be estimated from this data.")
    else:
        b = ok.iloc[0]
        kind = f"({b['kind']})"
        net = money_interval(b["net_benefit"], b["net_benefit_low"], b["net_benefit_high"], cur)
        if b["p_positive"] <= 1 - level:
            out.append(
                f"None of the investments pays for itself within {months}: the best, {b['scenario']} {kind}, "
                f"retains {money(b['retained_revenue'], cur)} for a cost of {money(b['cost'], cur)}; "
                f"it would break even at a yearly cost of {money(b['break_even_cost'], cur)}."
            )
        elif len(ok) == 1:
            out.append(f"{b['scenario']} {kind}: net benefit {net} over {months}.")
        else:
            s = ok.iloc[1]
            p = result.beats.loc[b["scenario"], s["scenario"]]
            if p >= level:
                out.append(
                    f"{b['scenario']} {kind} is the better investment: net benefit {net} over {months}, "
                    f"ahead of {s['scenario']} ({s['kind']}) in {100 * p:.0f}% of the draws."
                )
            else:
                net2 = money_interval(s["net_benefit"], s["net_benefit_low"], s["net_benefit_high"], cur)
                out.append(
                    f"The evidence does not separate {b['scenario']} ({b['kind']}) and {s['scenario']} ({s['kind']}): "
                    f"the first is ahead in only {100 * p:.0f}% of the draws (net benefit {net} against {net2} over {months}). "
                    "Decide on other grounds, or gather more data: more customers or a longer history narrow the intervals."
                )
        if level > b["p_positive"] > 1 - level:
            out.append(
                f"Whether {b['scenario']} pays for its cost is not settled: its net benefit is positive in "
                f"{100 * b['p_positive']:.0f}% of the draws."
            )
        losers = ok[(ok["p_positive"] <= 1 - level)]
        losers = losers[losers["scenario"] != b["scenario"]]
        if len(losers) and b["p_positive"] > 1 - level:
            out.append(
                "Not worth its cost: "
                + "; ".join(f"{r['scenario']} (break-even at {money(r['break_even_cost'], cur)} a year)" for _, r in losers.iterrows())
                + "."
            )
    missing = t[~t["estimable"]]
    for _, r in missing.iterrows():
        out.append(f"Not estimated: {r['scenario']}: {r['note']}.")
    return " ".join(out)


def summary_section(result: ROIResult) -> tuple[pd.DataFrame, str]:
    """For the executive summary: the side-by-side table and the recommendation sentence."""
    return side_by_side(result), recommendation(result)
