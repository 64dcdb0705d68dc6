"""Figures of the finite-size-scaling analyses (matplotlib, Agg backend, PNG and PDF).

* :func:`plot_fss` -- the four panels of Fig. 1 of Fang, Barzegar & Katzgraber,
  Mach. Learn.: Sci. Technol. 1, 045001 (2020) for the CNN of one scenario:
  (a) ``<p>`` vs T per L with the combined crossing, (b) log-log fit of the maxima of
  ``d<p>/dT`` giving ``nu_ml``, (c) normalised linear coefficients vs T with their
  zeros, (d) full data collapse onto the fitted cubic;
* :func:`plot_nulls` -- the CNN's and the null models' ``<p>(T, L)`` side by side;
* :func:`plot_conventional` -- Binder ratio and xi_L/L vs T per L with their crossings;
* :func:`plot_tc_summary` -- Tc of every scenario (every CNN estimate that exists and
  the null models' crossings; open markers where no transition is claimed), the
  conventional estimate and the literature band;
* :func:`plot_dose_response` -- Tc, the CNN - null differences and the audit against the dose
  of one poisoning axis, with the signal-loss bracket.

Temperatures are in units of J (k_B = 1). Every function writes
``<stem>.png`` and ``<stem>.pdf`` atomically and returns their paths.
"""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from sgpoison.io.atomic import atomic_write  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from sgpoison.fss.conventional import ConventionalResult
    from sgpoison.fss.verdict import AnalysisResult, ScenarioResult

#: literature range of Tc for the 3D bimodal Edwards-Anderson model (Katzgraber, Koerner &
#: Young, PRB 73, 224432 (2006): 1.12(2); Hasenbusch, Pelissetto & Vicari 2008: 1.109(10))
LITERATURE_TC_BIMODAL = (1.10, 1.12)
#: label of every temperature axis
TEMPERATURE_AXIS_LABEL = r"temperature $T$ [$J$, $k_B = 1$]"


def _pm(value, error, digits: int = 3) -> str:
    """``value +- error`` for labels (the error omitted when unknown)."""
    text = f"{value:.{digits}f}"
    if error is not None and np.isfinite(error):
        text += rf" $\pm$ {error:.{digits}f}"
    return text


def _size_colors(n: int) -> list:
    return [plt.get_cmap("viridis")(x) for x in np.linspace(0.0, 0.85, n)]


def save_figure(fig, stem: str | os.PathLike) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` (150 dpi) and ``<stem>.pdf`` atomically; close it."""
    stem = Path(stem)
    try:
        return [atomic_write(stem.with_name(f"{stem.name}.{ext}"),
                             lambda tmp, ext=ext: fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight"))
                for ext in ("png", "pdf")]
    finally:
        plt.close(fig)


def _interval_line(ax, value, lo, hi, label, color="k"):
    ax.axvline(value, color=color, lw=1, ls="--", label=label)
    if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
        ax.axvspan(lo, hi, color=color, alpha=0.12, lw=0)


def _no_signal_text(ax, text):
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 40)), transform=ax.transAxes, ha="center",
            va="center", fontsize=8, color="0.3")


def _entry(est: dict, name: str) -> dict:
    return est["estimates"].get(name) or {"value": None, "error": None, "ci_low": None, "ci_high": None}


def _curves(ax, result: "AnalysisResult", colors, est: dict | None = None, legend: bool = True) -> None:
    """<p> vs T per L with total error bars and splines, and Tc_crossing with its interval."""
    c, d = result.central, result.data
    for i, l in enumerate(d.L):
        ax.errorbar(d.temperature, result.mean[i], yerr=result.stderr[i], fmt="o", ms=3, color=colors[i],
                    capsize=2, label=f"L = {l}")
        if np.all(np.isfinite(c.smooth[i])):
            ax.plot(c.fine_temperature, c.smooth[i], color=colors[i], lw=1)
    if est is not None:
        e = _entry(est, "Tc_crossing")
        if e["value"] is not None:
            _interval_line(ax, e["value"], e["ci_low"], e["ci_high"],
                           rf"$T_c$ (crossing) = {_pm(e['value'], e['error'])}")
    ax.set_xlabel(TEMPERATURE_AXIS_LABEL)
    ax.set_ylabel(r"$\langle p \rangle$ (probability of high-$T$ phase)")
    if legend:
        ax.legend(fontsize=7)


def plot_fss(result: "AnalysisResult", stem: str | os.PathLike, estimates: dict | None = None) -> list[Path]:
    """Paper Fig. 1 for the CNN of one scenario (2 x 2 panels), written to ``<stem>.png/.pdf``.

    (a) ``<p>`` vs T per L (total errors) with ``Tc_crossing``; (b) the paper's log-log fit of
    ``max d<p>/dT`` (open markers: no interior maximum); (c) the normalised linear coefficient
    of ``<p>`` vs ``L^(1/nu)`` with nu of the full collapse (solid) and ``nu_ml`` (dashed);
    (d) the full collapse. Every estimate that exists is drawn, whatever the verdict.

    Parameters
    ----------
    result : sgpoison.fss.verdict.AnalysisResult
    stem : path-like
        Output path without extension.
    estimates : dict, optional
        Output of :func:`sgpoison.fss.estimates.estimates_dict` (computed if omitted).
    """
    from sgpoison.fss.estimates import estimates_dict

    est = estimates if estimates is not None else estimates_dict(result)
    c = result.central
    d = result.data
    L, T = d.L, d.temperature
    colors = _size_colors(len(L))
    detected = est["transition_detected"]
    fig, axes = plt.subplots(2, 2, figsize=(10, 8))
    (ax_a, ax_b), (ax_c, ax_d) = axes

    _curves(ax_a, result, colors, est)
    K = est.get("n_networks", 1)
    ax_a.set_title(f"(a) classification probability ({K} network{'s' if K != 1 else ''} per L)")

    # (b) the paper's log-log fit of max d<p>/dT
    dm = est.get("derivative_maximum") or []
    val = np.array([x["value"] if x["value"] is not None else np.nan for x in dm], dtype=float)
    lo = np.array([x["ci_low"] if x["ci_low"] is not None else np.nan for x in dm], dtype=float)
    hi = np.array([x["ci_high"] if x["ci_high"] is not None else np.nan for x in dm], dtype=float)
    ok = np.isfinite(val) & (val > 0)
    if ok.any():
        yerr = np.vstack([np.clip(val - lo, 0, None), np.clip(hi - val, 0, None)])
        yerr = np.where(np.isfinite(yerr), yerr, 0.0)
        for i in np.nonzero(ok)[0]:
            interior = dm[i]["interior"]
            ax_b.errorbar([L[i]], [val[i]], yerr=yerr[:, [i]], fmt="o", color=colors[i], capsize=3,
                          mfc=colors[i] if interior else "none")
        ax_b.set_xscale("log")
        ax_b.set_yscale("log")
        ax_b.set_xticks([int(l) for l in L])
        for axis in (ax_b.xaxis, ax_b.yaxis):
            axis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax_b.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        if math.isfinite(c.inverse_nu_ml) and math.isfinite(c.loglog_intercept):
            Lf = np.geomspace(L[0] * 0.9, L[-1] * 1.1, 50)
            nu = _entry(est, "nu_ml")
            lab = (rf"$\nu_{{ml}}$ = {_pm(nu['value'], nu['error'], 2)}" if nu["value"] is not None
                   else rf"slope $1/\nu_{{ml}}$ = {c.inverse_nu_ml:.3f} ($\nu_{{ml}}$ undefined)")
            ax_b.plot(Lf, np.exp(c.loglog_intercept) * Lf ** c.inverse_nu_ml, "k-", lw=1, label=lab)
            ax_b.legend(fontsize=8)
        if not np.all(c.derivative_maximum_interior):
            ax_b.text(0.02, 0.02, "open: no interior maximum (paper chain undefined)", transform=ax_b.transAxes,
                      fontsize=7, color="0.3")
    else:
        _no_signal_text(ax_b, "no positive maximum of d<p>/dT" if dm else "paper chain not computed")
    ax_b.set_xlabel(r"linear size $L$")
    ax_b.set_ylabel(r"$\max_T\, d\langle p\rangle/dT$ [$1/J$]")
    ax_b.set_title(r"(b) paper: $\max d\langle p\rangle/dT \propto L^{1/\nu_{ml}}$ (Eq. 6)")

    # (c) normalised linear coefficients b(T) of <p> vs L^(1/nu)
    drawn = False
    for prefix, name, nu_name, style, label in (
            ("", "Tc_linear", "nu_collapse", "-", r"$\nu$ of the full collapse"),
            ("paper_", "paper_Tc_linear", "nu_ml", "--", r"$\nu_{ml}$ (paper)")):
        b_fine = getattr(c, f"{prefix}linear_coefficient_fine")
        if b_fine is None or not np.any(np.isfinite(b_fine)):
            continue
        norm = float(np.nanmax(np.abs(b_fine)))
        if not norm > 0:
            continue
        b, db = getattr(c, f"{prefix}linear_coefficient"), getattr(c, f"{prefix}linear_coefficient_error")
        color = "C0" if not prefix else "C1"
        nu = _entry(est, nu_name)["value"]
        ax_c.errorbar(T, b / norm, yerr=db / norm, fmt="o", ms=3, color=color, capsize=2, alpha=0.7)
        ax_c.plot(c.fine_temperature, b_fine / norm, style, color=color, lw=1,
                  label=label + (f" = {nu:.2f}" if nu is not None else ""))
        e = _entry(est, name)
        if e["value"] is not None:
            _interval_line(ax_c, e["value"], e["ci_low"], e["ci_high"], rf"zero: {e['value']:.3f}", color=color)
        drawn = True
    if drawn:
        ax_c.axhline(0.0, color="0.5", lw=0.8)
        ax_c.legend(fontsize=7)
    else:
        _no_signal_text(ax_c, "linear coefficient undefined (no nu: neither the full collapse nor nu_ml exists)")
    ax_c.set_xlabel(TEMPERATURE_AXIS_LABEL)
    ax_c.set_ylabel(r"normalised linear coefficient $b(T)/\max_T|b|$")
    ax_c.set_title(r"(c) slope of $\langle p\rangle$ vs $L^{1/\nu}$ (Fig. 1c)")

    # (d) the full collapse
    cf = c.collapse
    if cf is not None and cf.success:
        x = cf.scaled(L, T)
        for i, l in enumerate(L):
            used = cf.mask[i]
            ax_d.errorbar(x[i, used], result.mean[i, used], yerr=result.stderr[i, used], fmt="o", ms=3,
                          color=colors[i], capsize=2, label=f"L = {l}")
            ax_d.plot(x[i, ~used], result.mean[i, ~used], "o", ms=3, mfc="none", color=colors[i], alpha=0.5)
        xs = x[cf.mask]
        xf = np.linspace(xs.min(), xs.max(), 200)
        acceptable = est["checks"].get("collapse_acceptable", {}).get("passed", False)
        ax_d.plot(xf, cf.curve(xf), "k-", lw=1.2,
                  label=(rf"cubic, $T_c$ = {cf.Tc:.3f}, $\nu$ = {cf.nu:.2f}, "
                         rf"$\chi^2_r$ = {cf.reduced_chi2:.2f}" + ("" if acceptable else " (unacceptable)")))
        ax_d.set_xlim(xs.min() - 0.3 * np.ptp(xs), xs.max() + 0.3 * np.ptp(xs))
        ax_d.legend(fontsize=7)
    else:
        _no_signal_text(ax_d, f"no full collapse: {cf.message if cf is not None else 'not fitted'}")
    ax_d.set_xlabel(r"$x = L^{1/\nu}(T - T_c)$ [$J$]")
    ax_d.set_ylabel(r"$\langle p \rangle$")
    ax_d.set_title(r"(d) full data collapse, $T_c$ and $\nu$ free (Eq. 4)")

    scen = est.get("scenario") or "scenario"
    verdict = "transition detected" if detected else "NO transition claimed: " + (est.get("reason") or "")
    fig.suptitle("\n".join(textwrap.wrap(f"{scen} (CNN): {verdict}", 120)), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, stem)


def plot_nulls(result: "ScenarioResult", stem: str | os.PathLike, estimates: dict | None = None) -> list[Path]:
    """The CNN's and every null model's ``<p>(T, L)`` side by side, written to ``<stem>.png/.pdf``.

    One panel per classifier (same axes), with its total error bars, splines and
    ``Tc_crossing`` interval; each null model's panel states whether the CNN's crossing is
    distinguishable from it (:func:`sgpoison.fss.verdict.compare`).

    Parameters
    ----------
    result : sgpoison.fss.verdict.ScenarioResult
    stem : path-like
    estimates : dict, optional
        Output of :func:`sgpoison.fss.estimates.estimates_dict` (computed if omitted).
    """
    from sgpoison.fss.estimates import estimates_dict

    est = estimates if estimates is not None else estimates_dict(result)
    names = list(result.results)
    colors = _size_colors(len(result.cnn.data.L))
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names) + 0.5, 4.4), sharey=True, squeeze=False)
    for k, (ax, name) in enumerate(zip(axes[0], names)):
        block = est if k == 0 else est["nulls"][name]
        r = result.results[name]
        _curves(ax, r, colors, block, legend=True)
        verdict = "transition" if block["transition_detected"] else "no transition"
        title = (f"CNN ({block['n_networks']} network{'s' if block['n_networks'] != 1 else ''}/L): {verdict}"
                 if k == 0 else f"{name}: {verdict}")
        if k > 0:
            title += "\n" + "\n".join(textwrap.wrap(est["comparisons"][name]["sentence"], 60))
        ax.set_title(title, fontsize=7)
        if k > 0:
            ax.set_ylabel("")
    if len(names) == 1:
        axes[0][0].text(0.5, 0.02, "no null models in this scenario", transform=axes[0][0].transAxes,
                        ha="center", fontsize=8, color="0.3")
    scen = est.get("scenario") or "scenario"
    fig.suptitle(f"{scen}: CNN and null models (logistic regression on physical observables)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, stem)


def plot_conventional(result: "ConventionalResult", stem: str | os.PathLike, estimates: dict | None = None) -> list[Path]:
    """Binder ratio g and xi_L/L vs T per L with the crossing of the two largest sizes."""
    from sgpoison.fss.conventional import conventional_estimates_dict

    est = estimates if estimates is not None else conventional_estimates_dict(result)
    L, T = result.L, result.temperature
    colors = _size_colors(len(L))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    panels = (("binder", "Tc_binder", r"Binder ratio $g = \frac{1}{2}(3 - [\langle q^4\rangle]/"
                                      r"[\langle q^2\rangle]^2)$"),
              ("correlation_length", "Tc_conventional", r"$\xi_L / L$"))
    for ax, (name, key, ylabel) in zip(axes, panels):
        curves, err = result.curves[name], result.stderr[name]
        for i, l in enumerate(L):
            y = np.where(np.isfinite(curves[i]), curves[i], np.nan)
            ax.errorbar(T, y, yerr=np.where(np.isfinite(err[i]), err[i], 0.0), fmt="o-", ms=3, lw=0.8,
                        color=colors[i], capsize=2, label=f"L = {l}")
        e = est["estimates"][key]
        if e["value"] is not None:
            _interval_line(ax, e["value"], e["ci_low"], e["ci_high"],
                           rf"crossing L={L[-2]},{L[-1]}: {_pm(e['value'], e['error'])}")
        ax.set_xlabel(TEMPERATURE_AXIS_LABEL)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    axes[0].set_title("(a) spin-glass Binder ratio")
    axes[1].set_title("(b) finite-size correlation length")
    verdict = "crossing detected" if est["transition_detected"] else "no crossing: " + (est.get("reason") or "")
    fig.suptitle("\n".join(textwrap.wrap(f"conventional analysis ({est.get('disorder')} couplings): {verdict}",
                                         110)), fontsize=10)
    fig.tight_layout()
    return save_figure(fig, stem)


def _asym(row, name):
    v, lo, hi = row.get(name), row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if v is None or not np.isfinite(v):
        return None
    lo = v if lo is None or not np.isfinite(lo) else lo
    hi = v if hi is None or not np.isfinite(hi) else hi
    return v, [[max(v - lo, 0.0)], [max(hi - v, 0.0)]]


#: the CNN's estimates drawn per scenario in the Tc summary: (column, x offset, marker, colour, label)
TC_SUMMARY_ESTIMATES = (
    ("Tc_crossing", -0.15, "o", "C0", "CNN: combined crossing"),
    ("Tc_collapse", -0.05, "s", "C2", "CNN: full collapse"),
    ("Tc_linear", 0.05, "^", "C4", r"CNN: linear coefficient ($\nu$ of the collapse)"),
    ("paper_Tc_linear", 0.15, "D", "C1", r"CNN: paper's chain ($\nu_{ml}$)"),
)


def plot_tc_summary(table: "pd.DataFrame", stem: str | os.PathLike,
                    literature: Sequence[float] = LITERATURE_TC_BIMODAL) -> list[Path]:
    """Tc per scenario: every CNN estimate that exists and each null model's crossing, with the references.

    Filled markers: the CNN's verdict claims a transition; open markers: it does not (the
    estimate exists but the verdict fails; the reason is in the table). Grey markers right of
    the CNN's: the null models' ``Tc_crossing``.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per scenario (``kind == "machine_learning"``) plus at most one
        ``kind == "conventional"`` row, columns as written by
        :func:`sgpoison.report.summary.build_table` (``Tc_crossing``, ``Tc_crossing_ci_low``,
        ``null_ql_Tc_crossing`` ...).
    stem : path-like
    literature : (float, float)
        Literature band of Tc (bimodal couplings).
    """
    ml = table[table["kind"] == "machine_learning"].reset_index(drop=True)
    conv = table[table["kind"] == "conventional"]
    nulls = sorted({c[: -len("_Tc_crossing")] for c in table.columns
                    if c.startswith("null_") and c.endswith("_Tc_crossing")})
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(ml) + 3.0), 4.8))
    ax.axhspan(literature[0], literature[1], color="gold", alpha=0.35, lw=0,
               label=f"literature $T_c$ (bimodal) {literature[0]:.2f}-{literature[1]:.2f}")
    values = list(literature)
    if len(conv):
        row = conv.iloc[0].to_dict()
        if row.get("Tc_conventional") is not None and np.isfinite(row.get("Tc_conventional", np.nan)):
            v = row["Tc_conventional"]
            ax.axhline(v, color="C3", lw=1.2,
                       label=rf"conventional $\xi_L/L$ crossing {_pm(v, row.get('Tc_conventional_error'))}")
            lo, hi = row.get("Tc_conventional_ci_low"), row.get("Tc_conventional_ci_high")
            if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                ax.axhspan(lo, hi, facecolor="none", edgecolor="C3", hatch="///", alpha=0.4, lw=0)
                values.extend([lo, hi])
            values.append(v)
    labels_done = set()

    def point(x, a, marker, color, label, filled):
        ax.errorbar([x], [a[0]], yerr=a[1], fmt=marker, color=color, mfc=color if filled else "white",
                    capsize=3, label=label if label not in labels_done else None)
        labels_done.add(label)
        values.extend([a[0] - a[1][0][0], a[0] + a[1][1][0]])

    no_signal = []
    null_markers = ("v", "<", ">", "P", "X")
    for i, row in ml.iterrows():
        row = row.to_dict()
        detected = bool(row.get("transition_detected"))
        got = False
        for name, dx, marker, color, label in TC_SUMMARY_ESTIMATES:
            a = _asym(row, name)
            if a is not None:
                point(i + dx, a, marker, color, label, detected)
                got = True
        for k, null in enumerate(nulls):
            a = _asym(row, f"{null}_Tc_crossing")
            if a is not None:
                point(i + 0.25 + 0.07 * k, a, null_markers[k % len(null_markers)], "0.45",
                      f"{null}: crossing", row.get(f"{null}_transition_detected") == "yes")
        if not got:
            no_signal.append(i)
    lo_v, hi_v = min(values), max(values)
    pad = max(0.05, 0.15 * (hi_v - lo_v))
    ymin, ymax = lo_v - 2 * pad, hi_v + pad
    ax.set_ylim(ymin, ymax)
    for k, i in enumerate(no_signal):
        ax.plot([i], [ymin + 0.6 * pad], "x", color="0.3", ms=10, mew=2,
                label="no estimate of Tc exists" if k == 0 else None)
    labels = []
    for _, row in ml.iterrows():
        lab = f"{row['scenario']}\n({'transition' if bool(row['transition_detected']) else 'no transition'}"
        K = row.get("n_networks")
        if K is not None and np.isfinite(K):
            lab += f", K={int(K)}"
        lab += ")"
        audit = row.get("audit_verdict")
        if isinstance(audit, str) and audit:
            lab += f"\n(audit: {audit})"
        labels.append(lab)
    ax.set_xticks(range(len(ml)))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(ml) - 0.4 + 0.1 * len(nulls))
    ax.set_xlabel("training scenario (open markers: no transition claimed)")
    ax.set_ylabel(r"critical temperature $T_c$ [$J$, $k_B = 1$]")
    ax.set_title(r"$T_c$ from the classifiers' $p(T, L)$ on bimodal couplings")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, stem)


#: the CNN's estimates drawn against the dose: (column, marker, colour, label)
DOSE_RESPONSE_ESTIMATES = (
    ("Tc_crossing", "o", "C0", "CNN: combined crossing"),
    ("Tc_collapse", "s", "C2", "CNN: full collapse"),
    ("Tc_linear", "^", "C4", r"CNN: linear coefficient ($\nu$ of the collapse)"),
    ("paper_Tc_linear", "D", "C1", r"CNN: paper's chain ($\nu_{ml}$)"),
    ("paper_Tc_collapse", "v", "C5", r"CNN: collapse with $\nu_{ml}$"),
)


def plot_dose_response(table: "pd.DataFrame", signal: dict, conventional: dict, stem: str | os.PathLike,
                       literature: Sequence[float] = LITERATURE_TC_BIMODAL) -> list[Path]:
    """Dose-response of one poisoning axis (``sgpoison dose-response``).

    (a) every CNN estimate of Tc that exists against the dose with its interval (filled: the
    verdict claims a transition; open: it does not), the bimodal literature band, the
    conventional ``xi_L/L`` estimate as a hatched band, the signal-loss bracket (grey) and the
    first dose the audit flags (red dashed line); (b) ``Tc_crossing(CNN) - Tc_crossing(N)`` per
    null model N with its 95% interval (filled: distinguishable), and the audit per dose (red
    cross: flagged, green circle: passes); (c) for ``label_noise`` scans with noise estimates:
    the audit's estimated rate per L against the injected rate (the diagonal: exact); (last, when
    the table has them) the CNNs' validation accuracy per L against the dose, with the majority
    baseline of each L (dashed). ``sweep_fraction`` runs from right to left (poison grows to the right).

    Parameters
    ----------
    table : pandas.DataFrame
        The dose table (:func:`sgpoison.fss.dose_response.signal_loss`).
    signal : dict
        ``signal_loss.json`` content.
    conventional : dict
        :func:`sgpoison.fss.dose_response.conventional_reference`.
    stem : path-like
    literature : (float, float)
    """
    axis = signal["axis"]
    x = table["dose"].to_numpy(dtype=float)
    noise_cols = sorted((c for c in table.columns if c.startswith("audit_noise_rate_L")
                         and not c.endswith(("_ci_low", "_ci_high"))), key=lambda c: int(c.rpartition("L")[2]))
    third = axis == "label_noise" and any(np.isfinite(table[c].to_numpy(dtype=float)).any() for c in noise_cols)
    accuracy_cols = sorted((c for c in table.columns if c.startswith("validation_accuracy_L")
                            and np.isfinite(table[c].to_numpy(dtype=float)).any()),
                           key=lambda c: int(c.rpartition("L")[2]))
    n_panels = 2 + int(third) + int(bool(accuracy_cols))
    fig, axes = plt.subplots(n_panels, 1, figsize=(7.0, 2.4 + 2.35 * n_panels), sharex=not third)
    ax = axes[0]
    span = (np.nanmax(x) - np.nanmin(x)) or 1.0
    ax.axhspan(literature[0], literature[1], color="gold", alpha=0.35, lw=0,
               label=f"literature $T_c$ (bimodal) {literature[0]:.2f}-{literature[1]:.2f}")
    conv = conventional.get("Tc_conventional") or {}
    if conv.get("value") is not None:
        ax.axhline(conv["value"], color="C3", lw=1.2,
                   label=rf"conventional $\xi_L/L$ crossing {_pm(conv['value'], conv.get('error'))}")
        if conv.get("ci_low") is not None and conv.get("ci_high") is not None:
            ax.axhspan(conv["ci_low"], conv["ci_high"], facecolor="none", edgecolor="C3", hatch="///",
                       alpha=0.4, lw=0)
    detected = table["transition_detected"].to_numpy(dtype=bool)
    offsets = np.linspace(-0.012, 0.012, len(DOSE_RESPONSE_ESTIMATES)) * span
    for (name, marker, color, label), dx in zip(DOSE_RESPONSE_ESTIMATES, offsets):
        if name not in table.columns:
            continue
        for filled in (True, False):
            rows = [i for i in range(len(table)) if detected[i] == filled and _asym(table.iloc[i], name)]
            if not rows:
                continue
            a = [_asym(table.iloc[i], name) for i in rows]
            ax.errorbar(x[rows] + dx, [v for v, _ in a], yerr=np.hstack([np.array(e) for _, e in a]),
                        fmt=marker, color=color, mfc=color if filled else "white", capsize=3,
                        label=label if filled else f"{label} (no transition claimed)")

    def mark(axis_):
        bracket = signal.get("bracket") or {}
        lo, hi = bracket.get("last_with_signal"), bracket.get("first_without_signal")
        if signal.get("status") == "lost" and lo is not None and hi is not None:
            axis_.axvspan(min(lo, hi), max(lo, hi), color="0.5", alpha=0.2, lw=0,
                          label=f"signal lost at {hi:g} (bracket {lo:g}-{hi:g})")
        flag = signal.get("first_audit_flag_dose")
        if flag is not None:
            axis_.axvline(flag, color="C3", ls="--", lw=1, label=f"audit first flags at {flag:g}")

    mark(ax)
    ax.set_ylabel(r"$T_c$ [$J$]")
    ax.set_title("\n".join(textwrap.wrap(signal.get("statement", ""), 95)), fontsize=7)
    ax.legend(fontsize=6, loc="best")
    ax = axes[1]
    ax.axhline(0.0, color="k", lw=0.8)
    nulls = [c[: -len("_comparison")] for c in table.columns if c.endswith("_comparison")]
    markers = ("v", "<", ">", "P", "X")
    for k, null in enumerate(nulls):
        name = f"cnn_minus_{null}_Tc_crossing"
        if name not in table.columns:
            continue
        dist = (table[f"{null}_comparison"] == "distinguishable").to_numpy()
        for filled in (True, False):
            rows = [i for i in range(len(table)) if dist[i] == filled and _asym(table.iloc[i], name)]
            if rows:
                a = [_asym(table.iloc[i], name) for i in rows]
                ax.errorbar(x[rows] + 0.01 * span * (k - len(nulls) / 2), [v for v, _ in a],
                            yerr=np.hstack([np.array(e) for _, e in a]), fmt=markers[k % len(markers)],
                            color=f"C{k}", mfc=f"C{k}" if filled else "white", capsize=3,
                            label=f"CNN - {null} ({'distinguishable' if filled else 'not distinguishable'})")
    flagged = table["audit_flagged"].to_numpy(dtype=bool)
    top = ax.secondary_xaxis("top")
    top.set_xticks(x)
    top.set_xticklabels(["audit: fail" if f else "audit: pass" for f in flagged], fontsize=6, rotation=45)
    for i in range(len(table)):
        ax.plot([x[i]], [1.0], "x" if flagged[i] else "o", color="C3" if flagged[i] else "C2",
                transform=ax.get_xaxis_transform(), clip_on=False, ms=7, mfc="none")
    mark(ax)
    ax.set_ylabel(r"$T_c^{\rm cross}$(CNN) $-$ $T_c^{\rm cross}$(null) [$J$]")
    ax.legend(fontsize=6, loc="best")
    if third:
        ax = axes[2]
        injected = table["injected_label_noise"].to_numpy(dtype=float)
        ax.plot(injected, injected, color="k", lw=0.8, label="estimate = injected")
        for k, col in enumerate(noise_cols):
            lo = table[f"{col}_ci_low"].to_numpy(dtype=float)
            hi = table[f"{col}_ci_high"].to_numpy(dtype=float)
            v = table[col].to_numpy(dtype=float)
            err = np.vstack([np.clip(v - lo, 0, None), np.clip(hi - v, 0, None)])
            ax.errorbar(injected, v, yerr=np.nan_to_num(err), fmt="o", color=_size_colors(len(noise_cols))[k],
                        capsize=3, label=f"audit estimate, L = {col.rpartition('L')[2]}")
        ax.set_xlabel(r"injected label noise $\rho$")
        ax.set_ylabel("estimated label-noise rate")
        ax.legend(fontsize=6)
    if accuracy_cols:
        ax = axes[-1]
        colors = _size_colors(len(accuracy_cols))
        for k, col in enumerate(accuracy_cols):
            L = col.rpartition("L")[2]
            ax.plot(x, table[col].to_numpy(dtype=float), "o-", color=colors[k], label=f"validation accuracy, L = {L}")
            baseline = f"majority_baseline_L{L}"
            if baseline in table.columns:
                ax.plot(x, table[baseline].to_numpy(dtype=float), "--", color=colors[k], lw=1,
                        label=f"majority baseline, L = {L}")
        ax.set_ylabel("validation accuracy (mean over K)")
        ax.legend(fontsize=6, ncol=2)
    label = {"label_noise": r"label noise $\rho$ (flip probability)",
             "sweep_fraction": "fraction of the thermalization sweeps of the training data",
             "t_label": r"labelling temperature $t_{\rm label}$ [$J$]"}.get(axis, axis)
    for a in [*axes[:2], *(axes[-1:] if accuracy_cols else [])]:
        a.set_xlabel(label)
        if axis == "sweep_fraction" and not a.xaxis_inverted():
            a.invert_xaxis()
    fig.tight_layout()
    return save_figure(fig, stem)
