"""The verdict of the finite-size scaling: is there a transition, and if not, why not.

:func:`analyze` runs the chain on all instances and on the bootstrap samples
(:mod:`sgpoison.fss.chain`) and applies the checks of :func:`evaluate_checks`; a Tc is
reported only when every check passes (docs/analysis.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sgpoison.bootstrap import percentile_interval
from sgpoison.fss.chain import BootstrapSamples, ChainResult, bootstrap_chain, fss_chain
from sgpoison.fss.predictions import PredictionSet
from sgpoison.fss.settings import MIN_SIZES, AnalysisSettings
from sgpoison.fss.stats import disorder_average



def evaluate_checks(central: ChainResult, boot: BootstrapSamples, temperature: np.ndarray,
                    L: np.ndarray, settings: AnalysisSettings) -> dict[str, dict[str, Any]]:
    """The verdict checks; a transition is detected only if every check passes.

    Checks (thresholds from ``settings``):

    ``nu_ml_defined``
        every maximum of ``d<p>/dT`` is positive and strictly inside the
        temperature window, and ``1/nu_ml > 0``;
    ``crossing_in_window``
        the linear coefficient of ``<p>`` vs ``L^(1/nu_ml)`` changes sign from
        negative to positive inside the window (Tc_linear exists);
    ``crossing_significant``
        the size ordering is reversed significantly: some simulated temperature
        below Tc_linear has ``b/db <= -z`` and some above has ``b/db >= z``
        (``z = significance_z``), i.e. the curves are not statistically
        indistinguishable on either side of the crossing;
    ``successive_crossings``
        at least ``min_pair_crossing_fraction`` of the successive-size pairs cross
        (in the physical orientation, larger L steeper) inside the window;
    ``crossing_stable``
        Tc_linear exists in at least ``min_bootstrap_fraction`` of the bootstrap
        samples and its interval is narrower than ``max_interval_fraction`` of the window;
    ``collapse_acceptable`` (only with ``settings.collapse``)
        the collapse converged inside the bounds and its reduced chi^2 is at most
        ``max_reduced_chi2``.

    Returns
    -------
    dict of str to dict
        Per check: ``passed`` (bool), ``detail`` (str), and the numbers used.
    """
    window = float(temperature[-1] - temperature[0])
    checks: dict[str, dict[str, Any]] = {}

    bad_max = [int(l) for l, d, inside in zip(L, central.derivative_maximum,
                                               central.derivative_maximum_interior)
               if not (d > 0 and inside)]
    ok = not bad_max and central.inverse_nu_ml > 0
    if bad_max:
        lo, hi = settings.derivative_p_range
        detail = (f"d<p>/dT has no positive maximum inside the temperatures where {lo:g} <= <p> <= {hi:g} "
                  f"for L={bad_max}")
    elif not central.inverse_nu_ml > 0:
        detail = (f"the maximum of d<p>/dT does not grow with L (log-log slope 1/nu_ml = "
                  f"{central.inverse_nu_ml:.3g} <= 0)")
    else:
        detail = f"1/nu_ml = {central.inverse_nu_ml:.4g} > 0"
    checks["nu_ml_defined"] = {"passed": bool(ok), "detail": detail,
                               "inverse_nu_ml": central.inverse_nu_ml}

    ok = math.isfinite(central.Tc_linear)
    testable = math.isfinite(central.nu_ml)
    if ok:
        detail = f"linear coefficient changes sign at T = {central.Tc_linear:.4f}"
    elif not testable:
        detail = "not tested: the linear coefficient of <p> vs L^(1/nu_ml) needs nu_ml"
    else:
        detail = ("the linear coefficient of <p> vs L^(1/nu_ml) does not change sign (negative to "
                  f"positive) inside [{temperature[0]:g}, {temperature[-1]:g}]")
    checks["crossing_in_window"] = {"passed": ok, "tested": testable, "detail": detail}

    z = settings.significance_z
    ok = bool(central.z_below >= z and central.z_above >= z)
    if not math.isfinite(central.Tc_linear):
        detail = "not tested: no crossing"
    elif ok:
        detail = (f"size ordering reversed with {central.z_below:.3g} and {central.z_above:.3g} "
                  f"standard errors below/above the crossing (need >= {z:g})")
    else:
        detail = (f"curves statistically indistinguishable on one side of the crossing: largest "
                  f"|b/db| = {central.z_below:.3g} below and {central.z_above:.3g} above (need >= {z:g})")
    checks["crossing_significant"] = {
        "passed": ok, "tested": math.isfinite(central.Tc_linear), "z_below": central.z_below,
        "z_above": central.z_above, "threshold": z, "detail": detail}

    n_pairs = central.pair_crossings.size
    n_cross = int(np.count_nonzero(np.isfinite(central.pair_crossings)))
    frac = n_cross / n_pairs
    ok = frac >= settings.min_pair_crossing_fraction
    checks["successive_crossings"] = {
        "passed": bool(ok), "fraction": frac, "threshold": settings.min_pair_crossing_fraction,
        "detail": (f"{n_cross} of {n_pairs} successive-size pairs cross inside the temperature window"
                   + (" (at T = " + ", ".join(f"{t:.3f}" for t in central.pair_crossings
                                               if math.isfinite(t)) + ")" if n_cross else "")),
    }

    samples = boot.scalars["Tc_linear"]
    frac = float(np.mean(np.isfinite(samples)))
    lo, hi = percentile_interval(samples, settings.confidence)
    width = hi - lo
    ok = frac >= settings.min_bootstrap_fraction and width <= settings.max_interval_fraction * window
    if frac < settings.min_bootstrap_fraction:
        detail = (f"Tc_linear (sign change of the linear coefficient) exists in only "
                  f"{100 * frac:.0f}% of the bootstrap samples "
                  f"(need >= {100 * settings.min_bootstrap_fraction:.0f}%)")
    elif not width <= settings.max_interval_fraction * window:
        detail = (f"the bootstrap interval of the crossing [{lo:.3f}, {hi:.3f}] spans more than "
                  f"{settings.max_interval_fraction:g} of the temperature window")
    else:
        detail = f"crossing in {100 * frac:.0f}% of bootstrap samples, interval [{lo:.4f}, {hi:.4f}]"
    checks["crossing_stable"] = {"passed": bool(ok), "tested": testable, "bootstrap_fraction": frac,
                                 "interval_width": width, "detail": detail}

    if settings.collapse:
        c = central.collapse
        ok = c is not None and c.success and c.reduced_chi2 <= settings.max_reduced_chi2
        if c is None or not c.success:
            detail = f"data collapse failed: {c.message if c is not None else 'not attempted'}"
        elif not c.reduced_chi2 <= settings.max_reduced_chi2:
            detail = (f"data collapse unacceptable: reduced chi^2 = {c.reduced_chi2:.3g} > "
                      f"{settings.max_reduced_chi2:g}")
        else:
            detail = f"reduced chi^2 = {c.reduced_chi2:.3g}, S = {c.quality_S:.3g}"
        checks["collapse_acceptable"] = {
            "passed": bool(ok), "reduced_chi2": c.reduced_chi2 if c else math.nan,
            "threshold": settings.max_reduced_chi2, "detail": detail}
    return checks


@dataclass
class AnalysisResult:
    """Everything :func:`analyze` computed; input of the writers and figures.

    Attributes
    ----------
    data : PredictionSet
    settings : AnalysisSettings
    mean, stderr : ndarray, shape (n_L, n_T)
        ``<p>(T, L)`` and its standard error.
    central : ChainResult
        Chain on all instances.
    bootstrap : BootstrapSamples
    checks : dict
        See :func:`evaluate_checks`.
    transition_detected : bool
    reason : str or None
        The details of the failed checks, "; "-joined (None when detected); a
        check that could not be tested because another failed (``tested: false``)
        is listed in ``failed_checks`` but not repeated in the reason.
    """

    data: PredictionSet
    settings: AnalysisSettings
    mean: np.ndarray
    stderr: np.ndarray
    central: ChainResult
    bootstrap: BootstrapSamples
    checks: dict[str, dict[str, Any]]
    transition_detected: bool
    reason: str | None

    @property
    def failed_checks(self) -> list[str]:
        return [k for k, v in self.checks.items() if not v["passed"]]


def analyze(data: PredictionSet, settings: AnalysisSettings | None = None) -> AnalysisResult:
    """Run the full analysis of one scenario: central chain, bootstrap, verdict.

    Parameters
    ----------
    data : PredictionSet
        From :func:`open_predictions`, or built directly (arrays as documented there).
    settings : AnalysisSettings, optional

    Returns
    -------
    AnalysisResult
    """
    settings = settings or AnalysisSettings()
    if len(data.L) < MIN_SIZES:
        raise ValueError(f"finite-size scaling needs at least {MIN_SIZES} sizes, got L={list(data.L)}")
    n_L, n_T = len(data.L), data.temperature.size
    mean = np.empty((n_L, n_T))
    stderr = np.empty((n_L, n_T))
    for i, pi in enumerate(data.p):
        if pi.ndim != 2 or pi.shape[1] != n_T:
            raise ValueError(f"p for L={data.L[i]} has shape {pi.shape}, expected (n_instances, {n_T})")
        mean[i], stderr[i] = disorder_average(pi)
    central = fss_chain(data.L, data.temperature, mean, stderr, settings)
    boot = bootstrap_chain(data.L, data.temperature, data.p, settings)
    checks = evaluate_checks(central, boot, data.temperature, data.L, settings)
    failed = [v["detail"] for v in checks.values() if not v["passed"] and v.get("tested", True)]
    if not failed:
        failed = [v["detail"] for v in checks.values() if not v["passed"]]
    return AnalysisResult(data=data, settings=settings, mean=mean, stderr=stderr, central=central,
                          bootstrap=boot, checks=checks, transition_detected=not failed,
                          reason="; ".join(failed) if failed else None)
