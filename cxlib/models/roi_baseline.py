"""The ROI's baseline hazard: coefficients of the churn model turned into the engine's ``log_a`` and class shifts.

:func:`log_baseline` gives the log daily hazard without bad experiences per segment and tenure
band (:func:`effective_bands`: a band with too few churn events borrows the band before it).
A model adjusted for engagement has a baseline per cell (experience-rate band, and with
``window_experiences`` the band of the window's count of experiences): :func:`engagement_weights`
is the exposure share of each cell in the model's panel, :func:`engagement_shift` the log of the
cells' exposure-weighted mean hazard ratio, and :func:`class_weights` / :func:`class_shifts` the
same within each engagement class of the base (:func:`cxlib.features.roi_inputs.engagement_classes`),
which is what :mod:`cxlib.models.roi_engine` uses. Numbers only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlib.features import panel as _panel

__all__ = [
    "MIN_BAND_EVENTS",
    "class_shifts",
    "class_shifts_all",
    "class_weights",
    "effective_bands",
    "engagement_shift",
    "engagement_weights",
    "has_engagement",
    "log_baseline",
    "log_baselines",
    "touchpoint_log_hrs",
]

#: A tenure band with fewer churn events than this takes the coefficient of the band before it.
MIN_BAND_EVENTS = 10


def log_baseline(model, beta: pd.Series, effective_band: list[str], weights=None) -> np.ndarray:
    """log daily hazard without bad experiences, segments × tenure bands, for coefficients ``beta``.

    A model adjusted for engagement has a baseline per experience-rate band; the base is a
    mix of them, so the hazard is averaged over the bands, weighted by their exposure in the
    model's panel (the base's engagement mix, not that of the reference band). ``weights``:
    :func:`engagement_weights` of the model, when already computed (they do not change between
    draws); an empty series: no shift (the engine's engagement classes carry their own,
    :func:`class_shifts`). :func:`log_baselines` of one draw.
    """
    return log_baselines(model, beta.to_numpy(dtype=float)[None, :], list(beta.index), effective_band, weights)[0]


def log_baselines(model, betas: np.ndarray, cols: list[str], effective_band: list[str], weights=None) -> np.ndarray:
    """:func:`log_baseline` of every draw at once: ``betas`` draws × coefficients (columns ``cols``) → draws × segments × bands."""
    betas = np.asarray(betas, dtype=float)
    index = {c: i for i, c in enumerate(cols)}

    def column(name):
        return betas[:, index[name]] if name in index else np.zeros(len(betas))

    w = engagement_weights(model) if weights is None else weights
    shift = _shifts(betas, index, w)
    base = column("baseline") + shift
    out = np.empty((len(betas), len(model.segments_), len(effective_band)))
    for i, s in enumerate(model.segments_):
        seg = base + column(f"segment[{s}]")
        for j, b in enumerate(effective_band):
            out[:, i, j] = seg + column(f"tenure[{b}]")
    return out


#: The panel's columns of the engagement adjustment, each with the prefix of its coefficients and its
#: fitted bands (``ChurnModel.engagement_levels_``, ``experience_levels_``): the experience-rate band
#: and, with ``window_experiences``, the band of the window's count of experiences.
_ADJUSTMENT = (("engagement", "engagement", "engagement_levels_"), ("experiences", "experiences", "experience_levels_"))


def _adjustment_columns(model) -> list[tuple[str, str, dict]]:
    """(panel column, coefficient prefix, band index → label) of each adjustment the model has."""
    panel = getattr(model, "panel_", None)
    on = {"engagement": bool(getattr(model, "engagement", False)),
          "experiences": bool(getattr(model, "engagement", False) and getattr(model, "window_experiences", False))}
    out = []
    for column, prefix, attr in _ADJUSTMENT:
        levels = getattr(model, attr, None)
        if on[column] and levels and panel is not None and column in panel:
            out.append((column, prefix, levels))
    return out


def has_engagement(model) -> bool:
    """Whether ``model`` is adjusted for engagement (the ROI then gives each engagement class its baseline and rate)."""
    return bool(_adjustment_columns(model))


def engagement_weights(model, bands=None) -> pd.Series:
    """The exposure share of each cell of the engagement adjustment in the model's panel (empty without it).

    ``bands``: only the cells of these experience-rate bands (an engagement class), their shares
    within them; None: every cell (the whole base).

    A cell is an experience-rate band or, with ``window_experiences``, a pair (rate band, band of
    the window's count of experiences); the series' index names each cell by its coefficients
    (``engagement[...]``, ``experiences[...]``: one index level per adjustment). The base's mix of
    cells is their joint exposure, not the product of the two margins (the two bands are
    correlated: a customer with a high rate has more experiences in the window).
    """
    columns = _adjustment_columns(model)
    if not columns:
        return pd.Series(dtype=float)
    exposure = model.panel_.groupby([c for c, _, _ in columns])["exposure_days"].sum()
    exposure = exposure[exposure > 0]
    if bands is not None:
        exposure = exposure[exposure.index.get_level_values(0).isin([int(b) for b in bands])]
    if not len(exposure) or exposure.sum() <= 0:
        return pd.Series(dtype=float)
    cells = exposure.index.to_frame(index=False)
    names = [cells.iloc[:, i].map(lambda k, p=prefix, lv=levels: f"{p}[{lv.get(int(k))}]")
             for i, (_, prefix, levels) in enumerate(columns)]
    return pd.Series(exposure.to_numpy() / exposure.sum(), index=pd.MultiIndex.from_arrays(names))


def engagement_shift(model, beta: pd.Series, weights: pd.Series) -> float:
    """log of the exposure-weighted mean hazard ratio of the engagement cells (0 without them).

    The ROI's base is a mix of cells, each with its own baseline; the scenarios turn bad
    experiences into good ones or unresolved into resolved, never change the number of
    experiences, so a customer's cell is the same in every scenario and the mix's mean hazard
    ratio is the baseline's shift. ``weights`` of the whole base give every customer the base's
    mix; those of an engagement class (:func:`class_weights`) the class's, which is what the
    engine uses: customers with more bad experiences, who meet more touchpoints, sit in cells
    of a lower baseline than the mean (``tests/analyses/test_roi_truth.py`` checks the ROI on
    the confounded world). A cell whose band has no coefficient (the reference, or a band not
    estimable) has ratio 1.
    """
    index = {c: i for i, c in enumerate(beta.index)}
    return float(_shifts(beta.to_numpy(dtype=float)[None, :], index, weights)[0])


def _shifts(betas: np.ndarray, index: dict, weights: pd.Series) -> np.ndarray:
    """:func:`engagement_shift` of each draw (rows of ``betas``, columns named by ``index``)."""
    if not len(weights):
        return np.zeros(len(betas))
    log_hr = np.zeros((len(betas), len(weights)))
    for level in range(weights.index.nlevels):
        names = weights.index.get_level_values(level)
        cols = np.array([index.get(n, -1) for n in names])
        has = cols >= 0
        log_hr[:, has] += betas[:, cols[has]]
    return np.log((np.exp(log_hr) * weights.to_numpy(dtype=float)[None, :]).sum(axis=1))


def class_weights(model, classes: pd.DataFrame) -> list[pd.Series]:
    """Per engagement class (``roi_inputs.engagement_classes``), the exposure share of each cell within it.

    Class 0 (no rate yet, usage unknown) takes the whole base's mix; so does a class none of whose
    bands has exposure in the model's panel.
    """
    out = []
    for row in classes.itertuples():
        w = engagement_weights(model, None if row.engagement_class == 0 else row.bands)
        out.append(w if len(w) else engagement_weights(model))
    return out


def class_shifts(model, beta: pd.Series, weights: list[pd.Series]) -> np.ndarray:
    """Each engagement class's baseline shift for coefficients ``beta``: :func:`engagement_shift` within it."""
    return class_shifts_all(beta.to_numpy(dtype=float)[None, :], list(beta.index), weights)[0]


def class_shifts_all(betas: np.ndarray, cols: list[str], weights: list[pd.Series]) -> np.ndarray:
    """:func:`class_shifts` of every draw at once: draws × classes."""
    betas = np.asarray(betas, dtype=float)
    index = {c: i for i, c in enumerate(cols)}
    return np.column_stack([_shifts(betas, index, w) for w in weights]) if weights else np.zeros((len(betas), 0))


def effective_bands(model) -> tuple[list[str], list[str]]:
    """Each tenure band's label to take coefficients from; notes on the bands that borrow."""
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


def touchpoint_log_hrs(model, beta: pd.Series, touchpoints: list[str]) -> np.ndarray | None:
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
