"""A simulated customer base with known truth: demo data, test oracle and load generator.

The generative model
--------------------
Everything happens on a grid of calendar days (UTC) from ``start`` (a midnight) for
``days`` days; ``as_of`` is the end of the last day. Timestamps are whole seconds.

* **Customers** sign up uniformly over the period. Each has a segment (consumer, smb,
  enterprise) and a lognormal ``monthly_value`` whose median depends on the segment.
* **Experiences** (``kind = "experience"``): every touchpoint is a Poisson process per
  customer over ``[signup_at, as_of)`` with a monthly rate (month = 30.4375 days), except
  onboarding, which happens exactly once within ``onboarding_window_days`` after signup.
  Each experience gets a channel (shares per touchpoint) and is bad with a probability
  that depends on the touchpoint *and* the channel; the rest are good or neutral.
* **Service contacts** (``kind = "service"``): after a bad experience the customer contacts
  service with probability ``p_contact``, on the experience's calendar day plus a delay of
  0–10 days. A same-day contact gets a random time of that day (never before signup), so it
  is often stamped before the experience, as with real systems that keep different clocks.
  The contact carries the experience's touchpoint, a service channel, and is resolved with a
  probability that depends on the channel. Routine contacts (touchpoint ``how_to``) are a
  separate Poisson process and never resolve a bad experience.
* **Churn** is a piecewise-constant (daily) hazard::

      h(d) = base_daily[segment] * tenure_hr[band(d)] * hr_unresolved**U(d) * hr_resolved**R(d)

  where ``U(d)`` and ``R(d)`` count the customer's bad experiences on days
  ``d - window_days .. d - 1`` that are unresolved, resolved, *as known on day d*. Each
  customer draws an Exp(1) threshold; ``churned_at`` is the moment the cumulative hazard
  (exposure on the signup day = the part of that day after ``signup_at``; linear within a
  day) crosses it. Experiences and contacts after ``churned_at`` did not happen and are not
  written.

Why the resolution rule is exactly design.md's definition
--------------------------------------------------------
A bad experience on day ``e`` is *resolved* when the customer has a ``service`` row of the
same touchpoint with ``resolved = true`` on a calendar day ``c`` with
``e <= c <= e + resolution_days``. The simulator determines ``c`` *from the generated rows*
(the earliest such row), not from which contact was generated "for" which experience: a
contact triggered by one bad delivery can resolve another bad delivery, and a late contact
(after ``resolution_days``) resolves nothing, just as an analyst applying the definition to
the files will find. The experience counts as unresolved on days ``e+1 .. c`` and as
resolved from ``c+1`` (the day after the resolution is known) to ``e + window_days``.
Because the hazard on day ``d`` only uses rows on days ``<= d - 1``, rows dropped because
they fall after ``churned_at`` (which lies on day ``d`` or later) never change the hazard
before churn. So the covariates an estimator builds from the written files with design.md's
definitions equal, day by day, the covariates that generated churn: a correctly specified
piecewise-exponential model recovers ``hr_unresolved``, ``hr_resolved``, the tenure hazard
ratios and the base rates without bias.

Common random numbers
---------------------
Each chunk of ``chunk_size`` customers has its own generator,
``default_rng(SeedSequence([seed, chunk_index]))``, and draws every random quantity in a
fixed order whose length depends only on the number of customers and the Poisson rates:
all uniforms of a potential contact (delay, channel, time of day, resolution, csat, first
response) are drawn for *every* experience, bad or not. Outcomes are thresholds of those
uniforms (bad iff ``u_bad < p_bad``; contact iff ``u_contact < p_contact``; resolved iff
``u_res < p_resolve``), churn is a threshold on the cumulative hazard. Hence an
intervention on bad rates, ``p_contact``, ``p_resolve``, the outcome/csat/nps
distributions or the hazard parameters, run with the same seed and chunk size, gives the
same customers and the same potential experiences: only the intervention differs. Changing
the Poisson rates, the period or the segment shares changes the draws themselves.
``interaction_id`` numbers *potential* rows (experience ``j`` is ``2j + 1``, its potential
contact ``2j + 2``), so the same interaction keeps its id across interventions.

The package: :mod:`~cxlib.data.simulate.config` (the true parameters, their checks and the
named worlds), :mod:`~cxlib.data.simulate.truth` (what an estimator should recover),
:mod:`~cxlib.data.simulate.draws` (one chunk of customers drawn), :mod:`~cxlib.data.simulate.write`
(Arrow tables, frames and files) and :mod:`~cxlib.data.simulate.layouts` (a world written as
vendors' exports with its sources file). The columns are the contract's
(:mod:`cxlib.data.contract`).
"""

from cxlib.data.contract import CUSTOMER_COLUMNS, INTERACTION_COLUMNS
from cxlib.data.simulate.config import PRESETS, SimulationConfig, preset
from cxlib.data.simulate.truth import truth
from cxlib.data.simulate.write import simulate, simulate_tables, write_dataset

__all__ = [
    "CUSTOMER_COLUMNS",
    "INTERACTION_COLUMNS",
    "PRESETS",
    "SimulationConfig",
    "preset",
    "simulate",
    "simulate_tables",
    "truth",
    "write_dataset",
]
