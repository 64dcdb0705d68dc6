"""The analysis of a scenario: every estimator of every classifier, the verdict, the null-model controls.

:func:`analyze` runs one classifier (the CNN ensemble or a null model) through
:mod:`sgpoison.fss.resampling` (``<p>(T, L)``, total errors, two-level bootstrap) and
:mod:`sgpoison.fss.chain` (every estimator, central and per bootstrap sample) and applies the
checks of :func:`evaluate_checks`. :func:`analyze_scenario` does so for every classifier of a
scenario with the same instance resamples and compares the CNN with each null model
(:func:`compare`). docs/analysis.md states the rules; every estimate that exists is
reported, whatever the verdict.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sgpoison.bootstrap import percentile_interval
from sgpoison.fss.chain import BootstrapSamples, ChainResult, bootstrap_chain, fss_chain, size_pairs
from sgpoison.fss.predictions import CNN, PredictionSet, ScenarioPredictions
from sgpoison.fss.resampling import EnsembleAverage, ensemble_average
from sgpoison.fss.settings import MIN_SIZES, AnalysisSettings

#: the estimates compared between the CNN and each null model
COMPARED = ("Tc_crossing", "Tc_collapse")


def ordering_significance(temperature: np.ndarray, z: np.ndarray, split: float) -> tuple[float, float, float]:
    """Largest reversal of the size ordering below and above a split temperature.

    Parameters
    ----------
    temperature : ndarray, shape (n_T,)
    z : ndarray, shape (n_T,)
        ``b / db``: slope of ``<p>`` against ``ln L`` over its standard error (total errors).
    split : float
        The crossing; NaN: the split between two simulated temperatures that maximises
        ``min(z_below, z_above)``.

    Returns
    -------
    z_below, z_above, split : float
        ``z_below = max_{T < split} (-z)``, ``z_above = max_{T > split} z`` (``-inf`` for an
        empty side), and the split used.
    """
    z = np.where(np.isfinite(z), z, -np.inf)
    if math.isfinite(split):
        below, above = temperature < split, temperature > split
        zb = float(np.max(-z[below])) if below.any() else -math.inf
        za = float(np.max(z[above])) if above.any() else -math.inf
        return zb, za, split
    best = (-math.inf, -math.inf, math.nan)
    for k in range(1, temperature.size):
        zb, za = float(np.max(-z[:k])), float(np.max(z[k:]))
        if min(zb, za) > min(best[0], best[1]):
            best = (zb, za, 0.5 * (temperature[k - 1] + temperature[k]))
    return best


def evaluate_checks(central: ChainResult, boot: BootstrapSamples, temperature: np.ndarray,
                    L: np.ndarray, settings: AnalysisSettings) -> dict[str, dict[str, Any]]:
    """The verdict checks; a transition is claimed only if every check passes.

    ``crossing_significant``
        the size ordering is reversed significantly on both sides of the crossing:
        ``z(T) = b(T) / db(T)``, with ``b`` the weighted slope of ``<p>(T, L)`` against
        ``ln L`` and ``db`` its standard error from the total errors (sizes are independent),
        has ``max_{T < Tc_crossing} (-z) >= significance_z`` and
        ``max_{T > Tc_crossing} z >= significance_z``; without a combined crossing, the split
        between simulated temperatures that maximises the smaller side is used;
    ``crossing_stable``
        ``Tc_crossing`` exists (every size crosses at least one other size, the larger size
        steeper) and exists in at least ``min_bootstrap_fraction`` of the bootstrap samples;
    ``collapse_acceptable``
        the full collapse (Tc and nu free) converged inside its bounds with reduced
        chi^2 <= ``max_reduced_chi2``, the errors being the total errors (disorder and
        network); ``tested: false`` when the collapse was switched off.

    Returns
    -------
    dict of str to dict
        Per check: ``passed`` (bool), ``tested`` (bool), ``detail`` (str: the reason when
        failed), and the numbers used.
    """
    checks: dict[str, dict[str, Any]] = {}
    z_threshold = settings.significance_z
    with np.errstate(divide="ignore", invalid="ignore"):
        z = central.ordering_slope / central.ordering_slope_error
    tc = central.Tc_crossing
    zb, za, split = ordering_significance(temperature, z, tc)
    ok = zb >= z_threshold and za >= z_threshold
    where = (f"the crossing Tc_crossing = {split:.4f}" if math.isfinite(tc)
             else f"T = {split:.4f} (no combined crossing; best split)" if math.isfinite(split) else "any T")
    if ok:
        detail = (f"size ordering reversed with z = {zb:.3g} below and {za:.3g} above {where} "
                  f"(need >= {z_threshold:g})")
    else:
        detail = (f"size ordering not significantly reversed: largest z = {zb:.3g} below and {za:.3g} above "
                  f"{where} (need >= {z_threshold:g} on both sides; z = slope of <p> vs ln L over its "
                  "total error)")
    checks["crossing_significant"] = {"passed": bool(ok), "tested": True, "z_below": zb, "z_above": za,
                                      "split_temperature": split, "threshold": z_threshold, "detail": detail}

    samples = boot.scalars["Tc_crossing"]
    frac = float(np.mean(np.isfinite(samples))) if samples.size else 0.0
    exists = math.isfinite(tc)
    ok = exists and frac >= settings.min_bootstrap_fraction
    if not exists:
        crossing_sizes = {int(L[i]) for k, pair in enumerate(size_pairs(len(L))) for i in pair
                          if central.pair_weights[k] > 0}
        alone = [int(l) for l in L if int(l) not in crossing_sizes]
        detail = (f"no combined crossing: the curves of L = {alone} cross no other size (larger size "
                  f"steeper) inside [{temperature[0]:g}, {temperature[-1]:g}]")
    elif not ok:
        detail = (f"the combined crossing Tc_crossing = {tc:.4f} exists in only {100 * frac:.0f}% of "
                  f"the bootstrap samples (need >= {100 * settings.min_bootstrap_fraction:.0f}%)")
    else:
        detail = f"Tc_crossing = {tc:.4f} exists in {100 * frac:.0f}% of the bootstrap samples"
    checks["crossing_stable"] = {"passed": bool(ok), "tested": True, "bootstrap_fraction": frac,
                                 "threshold": settings.min_bootstrap_fraction, "detail": detail}

    c = central.collapse
    if not settings.collapse:
        checks["collapse_acceptable"] = {"passed": False, "tested": False, "reduced_chi2": math.nan,
                                         "threshold": settings.max_reduced_chi2,
                                         "detail": "not tested: the full collapse was switched off"}
    else:
        ok = c is not None and c.success and c.reduced_chi2 <= settings.max_reduced_chi2
        if c is None or not c.success:
            detail = f"full data collapse failed: {c.message if c is not None else 'not attempted'}"
        elif not ok:
            detail = (f"full data collapse unacceptable: reduced chi^2 = {c.reduced_chi2:.3g} > "
                      f"{settings.max_reduced_chi2:g} with the total errors (disorder and networks)")
        else:
            detail = f"full data collapse: reduced chi^2 = {c.reduced_chi2:.3g}, S = {c.quality_S:.3g}"
        checks["collapse_acceptable"] = {
            "passed": bool(ok), "tested": True, "reduced_chi2": c.reduced_chi2 if c else math.nan,
            "threshold": settings.max_reduced_chi2, "detail": detail}
    return checks


@dataclass
class AnalysisResult:
    """Everything :func:`analyze` computed for one classifier; input of the writers and figures.

    Attributes
    ----------
    data : PredictionSet
    settings : AnalysisSettings
    average : EnsembleAverage
        ``<p>(T, L)``, total errors, bootstrap samples, network spread.
    central : ChainResult
        Every estimator on the central curves.
    bootstrap : BootstrapSamples
        Every estimator on every bootstrap sample.
    checks : dict
        See :func:`evaluate_checks`.
    transition_detected : bool
    reason : str or None
        The details of the failed checks, "; "-joined (None when detected).
    """

    data: PredictionSet
    settings: AnalysisSettings
    average: EnsembleAverage
    central: ChainResult
    bootstrap: BootstrapSamples
    checks: dict[str, dict[str, Any]]
    transition_detected: bool
    reason: str | None

    @property
    def scalars(self) -> dict[str, float]:
        """The central scalar estimates (keys as ``bootstrap.scalars``)."""
        return self.central.scalars()

    @property
    def classifier(self) -> str:
        return self.data.classifier

    @property
    def mean(self) -> np.ndarray:
        """``<p>(T, L)``, shape (n_L, n_T)."""
        return self.average.mean

    @property
    def stderr(self) -> np.ndarray:
        """Total error of ``<p>(T, L)`` (bootstrap), shape (n_L, n_T)."""
        return self.average.error

    @property
    def failed_checks(self) -> list[str]:
        return [k for k, v in self.checks.items() if not v["passed"]]


def analyze(data: PredictionSet, settings: AnalysisSettings | None = None) -> AnalysisResult:
    """Analyse one classifier: averages, two-level bootstrap, every estimator, verdict.

    Parameters
    ----------
    data : PredictionSet
        From :func:`~sgpoison.fss.predictions.open_predictions`, or built directly.
    settings : AnalysisSettings, optional

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ValueError
        Fewer than ``MIN_SIZES`` sizes, or arrays of inconsistent shapes.
    """
    settings = settings or AnalysisSettings()
    if len(data.L) < MIN_SIZES:
        raise ValueError(f"finite-size scaling needs at least {MIN_SIZES} sizes, got L={list(data.L)}")
    average = ensemble_average(data, settings)
    central = fss_chain(data.L, data.temperature, average.mean, average.error, settings)
    boot = bootstrap_chain(data.L, data.temperature, average.samples, average.error, settings)
    checks = evaluate_checks(central, boot, data.temperature, data.L, settings)
    failed = [v["detail"] for v in checks.values() if not v["passed"]]
    return AnalysisResult(data=data, settings=settings, average=average, central=central, bootstrap=boot,
                          checks=checks, transition_detected=not failed,
                          reason="; ".join(failed) if failed else None)


@dataclass
class Comparison:
    """CNN - null model, paired over the instance resamples.

    Attributes
    ----------
    null : str
    differences : dict of str to dict
        Per estimate of :data:`COMPARED`: ``value`` (central CNN - null), ``samples``
        (ndarray, shape (n_bootstrap,), the paired bootstrap differences), ``error`` (their
        standard deviation), ``effective_dof``, ``ci_low``, ``ci_high`` (the interval at
        ``comparison_confidence``, see :func:`compare`), ``percentile_ci_low``,
        ``percentile_ci_high`` (percentile interval of the samples, for reference),
        ``bootstrap_valid_fraction``, ``distinguishable`` (True / False / None when the
        difference does not exist centrally or in fewer than ``min_bootstrap_fraction`` of the
        samples).
    distinguishable : bool or None
        That of ``Tc_crossing``.
    sentence : str
        "the CNN's crossing is (in)distinguishable from the <null> classifier's ..." or why
        it cannot be compared.
    """

    null: str
    differences: dict[str, dict[str, Any]] = field(default_factory=dict)
    distinguishable: bool | None = None
    sentence: str = ""


def _variance(samples: np.ndarray) -> float:
    finite = samples[np.isfinite(samples)]
    return float(finite.var(ddof=1)) if finite.size >= 2 else math.nan


def compare(cnn: AnalysisResult, null: AnalysisResult, settings: AnalysisSettings,
            cnn_instances_only: dict[str, np.ndarray] | None = None) -> Comparison:
    """Compare the CNN with one null model (paired bootstrap of the differences).

    For each estimate of :data:`COMPARED` the difference ``d = CNN - null`` has the paired
    bootstrap samples ``d_b = CNN_b - null_b`` (the same instance resamples). Its interval at
    ``comparison_confidence`` (95%) is ``d +- t_{nu_eff} sqrt(v)``, ``v`` the variance of the
    ``d_b``, with the Welch-Satterthwaite effective degrees of freedom
    ``nu_eff = v^2 / (v_net^2 / (K - 1) + v_inst^2 / (N - 1))`` (Satterthwaite, Biometrics
    Bull. 2, 110 (1946)): ``v_inst`` is the variance of the differences when the CNN's
    networks are not resampled (``cnn_instances_only``), ``v_net = max(v - v_inst, 0)``, K the
    networks and N the fewest instances per size. The paired differences cancel most of the
    instance noise, so their variance can come mostly from K networks; a percentile interval
    would then cover like a normal interval with a variance of K - 1 degrees of freedom (about
    88% instead of 95% for K = 5). Without ``cnn_instances_only`` (K = 1, or the network level
    off) ``nu_eff = N - 1``.

    The CNN's crossing is *distinguishable* from the null model's iff this interval of the
    ``Tc_crossing`` difference excludes 0; it cannot be compared when either crossing does not
    exist in the central data or the difference exists in fewer than ``min_bootstrap_fraction``
    of the samples.
    """
    from scipy import stats

    name = null.classifier
    out = Comparison(null=name)
    level = settings.comparison_confidence
    K = cnn.average.n_networks
    N = int(min(cnn.data.n_instances.min(), null.data.n_instances.min()))
    for key in COMPARED:
        value = cnn.scalars[key] - null.scalars[key]
        samples = cnn.bootstrap.scalars[key] - null.bootstrap.scalars[key]
        frac = float(np.mean(np.isfinite(samples)))
        v = _variance(samples)
        dof = float(N - 1)
        if cnn_instances_only is not None and K > 1 and math.isfinite(v):
            v_inst = _variance(cnn_instances_only[key] - null.bootstrap.scalars[key])
            if math.isfinite(v_inst):
                v_net = max(v - v_inst, 0.0)
                dof = v * v / (v_net * v_net / (K - 1) + v_inst * v_inst / (N - 1)) if v > 0 else dof
        half = float(stats.t.ppf(0.5 + level / 2, dof) * math.sqrt(v)) if math.isfinite(v) else math.nan
        lo, hi = value - half, value + half
        p_lo, p_hi = percentile_interval(samples, level)
        comparable = math.isfinite(value) and math.isfinite(half) and frac >= settings.min_bootstrap_fraction
        out.differences[key] = {
            "value": value, "samples": samples, "error": math.sqrt(v) if math.isfinite(v) else math.nan,
            "effective_dof": dof, "ci_low": lo, "ci_high": hi, "confidence": level,
            "percentile_ci_low": p_lo, "percentile_ci_high": p_hi, "bootstrap_valid_fraction": frac,
            "distinguishable": bool(lo > 0 or hi < 0) if comparable else None}
    d = out.differences["Tc_crossing"]
    out.distinguishable = d["distinguishable"]
    percent = f"{100 * level:.0f}%"
    if out.distinguishable is None:
        if not math.isfinite(cnn.scalars["Tc_crossing"]):
            why = "the CNN's curves have no combined crossing"
        elif not math.isfinite(null.scalars["Tc_crossing"]):
            why = f"the {name} classifier's curves have no combined crossing"
        else:
            why = (f"the difference exists in only {100 * d['bootstrap_valid_fraction']:.0f}% of the bootstrap "
                   f"samples (need >= {100 * settings.min_bootstrap_fraction:.0f}%)")
        out.sentence = f"the CNN's crossing cannot be compared with the {name} classifier's: {why}"
    else:
        word = "distinguishable" if out.distinguishable else "indistinguishable"
        verb = "excludes" if out.distinguishable else "includes"
        out.sentence = (f"the CNN's crossing is {word} from the {name} classifier's: Tc_crossing(CNN) - "
                        f"Tc_crossing({name}) = {d['value']:+.4f}, {percent} interval [{d['ci_low']:+.4f}, "
                        f"{d['ci_high']:+.4f}] {verb} 0")
    return out


def instances_only(data: PredictionSet, settings: AnalysisSettings) -> dict[str, np.ndarray]:
    """Bootstrap samples of the :data:`COMPARED` estimates with the networks not resampled
    (the same instance resamples), for the degrees of freedom of :func:`compare`."""
    settings = dataclasses.replace(settings, network_level=False, paper_chain=False)
    average = ensemble_average(data, settings)
    boot = bootstrap_chain(data.L, data.temperature, average.samples, average.error, settings)
    return {key: boot.scalars[key] for key in COMPARED}


@dataclass
class ScenarioResult:
    """Every classifier of a scenario analysed with the same instance resamples.

    Attributes
    ----------
    data : ScenarioPredictions
    settings : AnalysisSettings
    results : dict of str to AnalysisResult
        The CNN first, then the null models.
    comparisons : dict of str to Comparison
        Per null model.
    """

    data: ScenarioPredictions
    settings: AnalysisSettings
    results: dict[str, AnalysisResult]
    comparisons: dict[str, Comparison]

    @property
    def cnn(self) -> AnalysisResult:
        return self.results[CNN]

    @classmethod
    def of(cls, result: AnalysisResult) -> "ScenarioResult":
        """A scenario of one analysed classifier (no null models)."""
        data = ScenarioPredictions(classifiers={CNN: result.data}, observable=result.settings.observable)
        return cls(data=data, settings=result.settings, results={CNN: result}, comparisons={})


def analyze_scenario(data: ScenarioPredictions, settings: AnalysisSettings | None = None) -> ScenarioResult:
    """Analyse every classifier of a scenario (:func:`analyze`) and compare the CNN with each null.

    Every classifier's bootstrap draws its instances of size L from the stream of
    ``(settings.seed, L)`` (:func:`sgpoison.fss.resampling.instance_seed`), so the
    differences CNN - null are paired.

    Parameters
    ----------
    data : ScenarioPredictions
    settings : AnalysisSettings, optional
        ``settings.observable`` must be the observable ``data`` was read with.

    Returns
    -------
    ScenarioResult
    """
    settings = settings or AnalysisSettings(observable=data.observable)
    if settings.observable != data.observable:
        raise ValueError(f"the predictions were read as {data.observable!r} but the settings analyse "
                         f"{settings.observable!r}")
    results = {name: analyze(pred, settings) for name, pred in data.classifiers.items()}
    cnn = results[CNN]
    separate = (instances_only(data.cnn, settings)
                if data.nulls and cnn.average.n_networks > 1 and settings.network_level else None)
    comparisons = {name: compare(cnn, results[name], settings, separate) for name in data.nulls}
    return ScenarioResult(data=data, settings=settings, results=results, comparisons=comparisons)
