"""Builders of test inputs shared by the test modules (import with ``import builders``).

* synthetic overlaps (not physics): :func:`step_overlaps` (ordered below ``t_order``,
  random above; a network separates them easily) and :func:`crossover_overlaps` (a smooth,
  instance-dependent crossover whose phases overlap near ``t_order``; validates the audit);
* simulation files in the documented format (docs/data-format.md) around such overlaps:
  :func:`write_simulation_file`, :func:`write_synthetic_simulation` (training tests),
  :func:`write_synthetic_training_file` (audit tests). Variables other than ``overlap`` and
  ``q`` are placeholders of a thermalized run (flat log-binned series, e = KPY energy,
  swap acceptance 0.5);
* :func:`load_config` and :data:`INVALID_CONFIGS`: shipped study configurations and broken ones;
* :func:`run_cli`: a command's exit status and error output;
* finite-size-scaling inputs with known answers: :func:`synthetic_predictions` (p(T, L)
  with exact scaling at ``TC``, ``NU``) and :func:`synthetic_moments` (Binder ratio and
  xi_L/L curves that cross at ``TC``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from sgpoison.fss.conventional import SizeMoments
from sgpoison.fss.predictions import PredictionSet
from sgpoison.io.formats import FORMAT_NAME, FORMAT_VERSION, overlap_encoding, write_netcdf
from sgpoison.io.provenance import provenance
from sgpoison.mc.parallel_tempering import log_bins

# ------------------------------------------------------------------------------------------
# study configurations
# ------------------------------------------------------------------------------------------

REPOSITORY = Path(__file__).resolve().parents[1]
#: the JSON schema of the study configuration
CONFIG_SCHEMA = REPOSITORY / "workflow" / "schemas" / "config.schema.yaml"


def load_config(name: str = "test.yaml") -> dict:
    """A shipped study configuration (config/NAME) as a dict."""
    import yaml

    with open(REPOSITORY / "config" / name) as stream:
        return yaml.safe_load(stream)


def _unknown_key(c):
    c["simulation"]["n_sweep"] = 100


def _unknown_top_level_key(c):
    c["scenario"] = {}


def _negative_label_noise(c):
    c["scenarios"]["clean"]["label_noise"] = -0.01


def _negative_learning_rate(c):
    c["network"]["learning_rate"] = -1e-3


def _small_lattice(c):
    c["sizes"] = [3, 4, 6]
    c["simulation"]["gaussian"][0]["L"] = 3


def _small_lattice_in_table(c):
    c["simulation"]["bimodal"][0]["L"] = 2


def _gaussian_ladder_all_below_label(c):
    c["simulation"]["gaussian"][1]["t_max"] = 0.95


def _gaussian_ladder_all_above_label(c):
    c["network"]["t_label"] = 0.5


def _size_without_row(c):
    c["sizes"] = [4, 6, 8, 10]


def _sweep_fraction_zero(c):
    c["scenarios"]["clean"]["sweep_fraction"] = 0


def _too_few_sizes(c):
    c["sizes"] = [4, 6]


def _bad_scenario_name(c):
    c["scenarios"]["1pct=noise"] = {"label_noise": 0.01, "sweep_fraction": 1.0}


def _missing_key(c):
    del c["simulation"]["gaussian"][0]["n_sweeps"]


def _t_min_above_t_max(c):
    c["simulation"]["bimodal"][2]["t_min"] = 1.5


#: invalid study configurations: name -> (edit of config/test.yaml, text the error must contain)
INVALID_CONFIGS = {
    "unknown key": (_unknown_key, "simulation.n_sweep"),
    "unknown top-level key": (_unknown_top_level_key, "config key scenario:"),
    "negative label noise": (_negative_label_noise, "scenarios.clean.label_noise"),
    "negative learning rate": (_negative_learning_rate, "network.learning_rate"),
    "L < 4 in sizes": (_small_lattice, "sizes[0]"),
    "L < 4 in a table": (_small_lattice_in_table, "simulation.bimodal[0].L"),
    "Gaussian ladder below t_label": (_gaussian_ladder_all_below_label, "network.t_label"),
    "Gaussian ladder above t_label": (_gaussian_ladder_all_above_label, "network.t_label"),
    "size without a table row": (_size_without_row, "sizes: L = 10"),
    "sweep fraction 0": (_sweep_fraction_zero, "scenarios.clean.sweep_fraction"),
    "fewer than three sizes": (_too_few_sizes, "config key sizes:"),
    "scenario name": (_bad_scenario_name, "config key scenarios:"),
    "missing key": (_missing_key, "n_sweeps"),
    "t_min above t_max": (_t_min_above_t_max, "simulation.bimodal[2].t_min"),
    "fractional L": (lambda c: c["sizes"].__setitem__(0, 4.0), "sizes[0]"),
    "one bimodal instance": (lambda c: c["simulation"]["bimodal"][0].__setitem__("n_instances", 1),
                             "simulation.bimodal[0].n_instances"),
    "no training instances left": (lambda c: c["network"].__setitem__("validation_fraction", 0.99),
                                    "simulation.gaussian[0].n_instances"),
    "unknown audit policy": (lambda c: c.__setitem__("audit", {"policy": "maybe"}), "audit.policy"),
    "analysis.n_bootstrap below 10": (lambda c: c["analysis"].__setitem__("n_bootstrap", 5), "analysis.n_bootstrap"),
    "t_min not a number": (lambda c: c["simulation"]["gaussian"][0].__setitem__("t_min", float("nan")),
                           "simulation.gaussian[0].t_min"),
    "t_max infinite": (lambda c: c["simulation"]["bimodal"][1].__setitem__("t_max", float("inf")),
                       "simulation.bimodal[1].t_max"),
    "label noise not a number": (lambda c: c["scenarios"]["clean"].__setitem__("label_noise", float("nan")),
                                 "scenarios.clean.label_noise"),
    "swap floor not a number": (lambda c: c["audit"].__setitem__("swap_floor", float("nan")), "audit.swap_floor"),
    "L listed twice": (lambda c: c["simulation"]["gaussian"].append(dict(c["simulation"]["gaussian"][0])),
                       "simulation.gaussian[3].L"),
    # the poisons of a scenario and the dose-response scans
    "unknown label-noise mode": (lambda c: c["scenarios"]["clean"].__setitem__("label_noise_mode", "blocks"),
                                 "scenarios.clean.label_noise_mode"),
    "scenario t_label below every ladder": (lambda c: c["scenarios"]["clean"].__setitem__("t_label", 0.7),
                                            "scenarios.clean.t_label"),
    "scan from a missing scenario": (lambda c: c.__setitem__("scans", {"base": "pure", "label_noise": [0.1]}),
                                     "scans.base"),
    "scan dose outside the ladder": (lambda c: c.__setitem__("scans", {"t_label": [0.9, 1.4]}), "scans.t_label[1]"),
    "scan dose label noise 0.5": (lambda c: c.__setitem__("scans", {"label_noise": [0.1, 0.5]}),
                                  "scans.label_noise[1]"),
    "scan name taken by another scenario": (
        lambda c: c.update(scans={"sweep_fraction": [0.25]},
                           scenarios=c["scenarios"] | {"sweep_fraction_0.25": {"label_noise": 0.01,
                                                                                 "sweep_fraction": 0.25}}),
        "scans.sweep_fraction[0]"),
    "unknown scan axis": (lambda c: c.__setitem__("scans", {"n_sweeps": [1]}), "scans.n_sweeps"),
}


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    """Run ``sgpoison ARGV`` in-process; return (exit status, stderr) also for usage errors."""
    from sgpoison.cli import main

    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# synthetic overlaps and simulation files
# ------------------------------------------------------------------------------------------


def step_overlaps(L: int, temperatures, n_instances: int, n_snapshots: int, seed: int = 0,
                       t_order: float = 0.95, magnetization: float = 0.8) -> np.ndarray:
    """Overlaps, int8 of shape (n_instances, N_T, n_snapshots, L, L, L), ordered below ``t_order``."""
    rng = np.random.default_rng(seed)
    T = np.asarray(temperatures, dtype=float)
    out = np.empty((n_instances, len(T), n_snapshots, L, L, L), dtype=np.int8)
    for t, temperature in enumerate(T):  # one temperature at a time keeps memory small
        m = magnetization if temperature < t_order else 0.0
        agree = rng.random((n_instances, n_snapshots, L, L, L), dtype=np.float32) < (1 + m) / 2
        sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n_instances, n_snapshots, 1, 1, 1))
        out[:, t] = np.where(agree, sign, -sign)
    return out


def crossover_overlaps(L: int, temperatures: np.ndarray, n_instances: int, n_snapshots: int,
                       seed: int = 0, t_order: float = 0.95, width: float = 0.03,
                       magnetization: float = 0.8, spread: float = 0.02) -> np.ndarray:
    """Synthetic overlaps whose two phases overlap near ``t_order`` (for validating the audit).

    Instance i orders with the smooth profile
    m_i(T) = magnetization / (1 + exp((T - t_order - d_i) / width)), d_i ~ N(0, spread)
    (a sample-to-sample shift of the crossover). Each snapshot has a global
    sign s = +-1 and sites equal to s with probability (1 + m_i(T)) / 2, so
    |q| ~ m_i(T). Far below t_order the configurations are clearly ordered, far
    above clearly disordered, near t_order the phases cannot be told apart:
    the physical overlap the noise estimate must not call label noise. Not physics.

    Returns
    -------
    int8 array, shape (n_instances, N_T, n_snapshots, L, L, L), values +-1
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(temperatures, dtype=float)
    shift = rng.normal(0.0, spread, size=n_instances)
    m = magnetization / (1.0 + np.exp((T[None, :] - t_order - shift[:, None]) / width))
    shape = (n_instances, len(T), n_snapshots, L, L, L)
    out = np.empty(shape, dtype=np.int8)
    for i in range(n_instances):  # one instance at a time keeps the float temporaries small
        agree = rng.random(shape[1:]) < ((1 + m[i]) / 2)[:, None, None, None, None]
        sign = rng.choice(np.array([-1, 1], dtype=np.int8), size=shape[1:3])[..., None, None, None]
        out[i] = np.where(agree, sign, -sign)
    return out


def write_simulation_file(path, overlaps: np.ndarray, temperatures, disorder: str = "gaussian",
                          n_sweeps: int = 8, sweep_fraction: float = 1.0, seed: int = 0,
                          first_instance: int = 0, parameters: dict | None = None) -> Path:
    """Write ``overlaps`` (int8, (n_instances, N_T, n_snapshots, L, L, L)) as a simulation file.

    ``q`` is computed from the overlaps; the log bins are those of a run of
    ``max(1, round(sweep_fraction * n_sweeps))`` thermalization sweeps with flat series.
    """
    n_instances, n_T, n_snapshots, L = overlaps.shape[:4]
    T = np.asarray(temperatures, dtype=float)
    n_sweeps_run = max(1, int(round(sweep_fraction * n_sweeps)))
    start, stop, count = log_bins(n_sweeps_run)
    n_bins = len(count)
    zeros = np.zeros
    ds = xr.Dataset(
        {
            "overlap": (("instance", "temperature", "snapshot", "x", "y", "z"), overlaps),
            "energy": (("instance", "temperature", "snapshot", "replica"), zeros((n_instances, n_T, n_snapshots, 2))),
            "q": (("instance", "temperature", "snapshot"), overlaps.mean(axis=(3, 4, 5), dtype=np.float64)),
            "link_overlap": (("instance", "temperature", "snapshot"), zeros((n_instances, n_T, n_snapshots))),
            "energy_log_binned": (("instance", "temperature", "log_bin"), zeros((n_instances, n_T, n_bins))),
            "q2_log_binned": (("instance", "temperature", "log_bin"), zeros((n_instances, n_T, n_bins))),
            "link_overlap_log_binned": (("instance", "temperature", "log_bin"),
                                        np.ones((n_instances, n_T, n_bins))),
            "swap_acceptance": (("instance", "temperature_pair", "replica"), np.full((n_instances, n_T - 1, 2), 0.5)),
            "couplings": (("instance", "x", "y", "z", "direction"), zeros((n_instances, L, L, L, 3), np.float32)),
            "instance_seed": (("instance",), np.arange(n_instances, dtype=np.uint64)),
        },
        coords={
            "instance": np.arange(first_instance, first_instance + n_instances, dtype=np.int64),
            "temperature": T, "snapshot": np.arange(n_snapshots),
            "x": np.arange(L), "y": np.arange(L), "z": np.arange(L),
            "replica": [0, 1], "direction": [0, 1, 2], "log_bin": np.arange(n_bins),
            "log_bin_start": ("log_bin", start), "log_bin_stop": ("log_bin", stop),
            "log_bin_count": ("log_bin", count), "temperature_pair": np.arange(n_T - 1),
        },
        attrs={"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "L": L, "disorder": disorder,
               "n_sweeps": n_sweeps, "sweep_fraction": sweep_fraction, "n_sweeps_run": n_sweeps_run,
               "n_snapshots": n_snapshots, "measure_interval": 1, "swap_interval": 1, "seed": seed,
               "ladder": "linear", **provenance(parameters)},
    )
    return write_netcdf(ds, path, encoding=overlap_encoding(ds))


def write_synthetic_simulation(path, L: int = 4, n_instances: int = 12, n_temperatures: int = 6,
                               t_min: float = 0.8, t_max: float = 1.1, n_snapshots: int = 20,
                               disorder: str = "gaussian", sweep_fraction: float = 1.0, seed: int = 0,
                               t_order: float = 0.95, magnetization: float = 0.8,
                               first_instance: int = 0) -> Path:
    """A simulation file of :func:`step_overlaps` (for the training tests); return its path."""
    T = np.linspace(t_min, t_max, n_temperatures)
    q = step_overlaps(L, T, n_instances, n_snapshots, seed, t_order, magnetization)
    return write_simulation_file(path, q, T, disorder=disorder, n_sweeps=64, sweep_fraction=sweep_fraction,
                                 seed=seed, first_instance=first_instance,
                                 parameters={"synthetic": "builders.step_overlaps", "t_order": t_order,
                                             "magnetization": magnetization})


def write_synthetic_training_file(path, L: int = 4, n_instances: int = 160, temperatures=None,
                                  n_snapshots: int = 100, seed: int = 0, **profile) -> Path:
    """A Gaussian simulation file of :func:`crossover_overlaps` (for the audit tests).

    Default temperatures: the default study's ladder, 20 from 0.8 to 1.21; 8
    thermalization sweeps, all run.
    """
    T = np.linspace(0.8, 1.21, 20) if temperatures is None else np.asarray(temperatures, dtype=float)
    q = crossover_overlaps(L, T, n_instances, n_snapshots, seed, **profile)
    return write_simulation_file(path, q, T, n_sweeps=8, seed=seed,
                                 parameters={"synthetic": "builders.crossover_overlaps", "seed": seed, **profile})


# ------------------------------------------------------------------------------------------
# finite-size-scaling inputs with known answers
# ------------------------------------------------------------------------------------------

#: critical temperature and exponent of the synthetic finite-size-scaling data
TC, NU = 1.1, 2.5
SIZES = (6, 8, 12, 16)
#: temperatures of the synthetic predictions and of the synthetic moments
PREDICTION_TEMPERATURES = np.linspace(0.8, 1.4, 25)
MOMENT_TEMPERATURES = np.linspace(0.8, 1.4, 21)


def scaling_function(x, a=2.0):
    return 0.5 * (1.0 + np.tanh(a * x))


def synthetic_predictions(kind="scaling", sizes=SIZES, T=PREDICTION_TEMPERATURES, n=200, noise=0.15, seed=1,
                          clip=False) -> PredictionSet:
    """Per-instance p(T, L) with a known disorder average.

    kind: ``scaling`` (F(L^(1/nu)(T - Tc))), ``constant`` (1/2), ``independent``
    (a sigmoid that does not depend on L), ``parallel`` (size-dependent but
    parallel sigmoids that never cross).
    """
    rng = np.random.default_rng(seed)
    p = []
    for L in sizes:
        if kind == "scaling":
            mean = scaling_function(L ** (1 / NU) * (T - TC))
        elif kind == "constant":
            mean = np.full(T.shape, 0.5)
        elif kind == "independent":
            mean = scaling_function(3.0 * (T - TC))
        elif kind == "parallel":
            mean = scaling_function(3.0 * (T - TC - 0.3 / L))
        else:
            raise ValueError(kind)
        values = mean[None, :] + noise * rng.standard_normal((n, T.size))
        p.append(np.clip(values, 0, 1) if clip else values)
    return PredictionSet(L=np.array(sizes), temperature=np.asarray(T, float), p=p,
                         paths=[f"synthetic_L{L}.nc" for L in sizes], attrs=[{} for _ in sizes])


def correlated_noise(rng, n: int, T, sigma: float, correlation_length: float) -> np.ndarray:
    """Per-instance noise correlated across temperatures: Gaussian process with a
    squared-exponential kernel ``sigma^2 exp(-(T - T')^2 / (2 l^2))``; shape (n, n_T), mean 0."""
    T = np.asarray(T, dtype=float)
    C = np.exp(-0.5 * ((T[:, None] - T[None, :]) / correlation_length) ** 2) + 1e-9 * np.eye(T.size)
    return sigma * rng.standard_normal((n, T.size)) @ np.linalg.cholesky(C).T


def ensemble_curves(sizes=SIZES, T=PREDICTION_TEMPERATURES, mean=None, n=200, n_networks=4,
                    instance_noise=0.1, correlation_length=0.1, network_offset=0.0, interaction_noise=0.02,
                    seed=0, eta=None) -> list[np.ndarray]:
    """Per-network, per-instance predictions with a known average and the error structure of an
    ensemble (not physics): ``p_k[i, T] = mean(L, T) + eta_i(T) + delta_k + eps_ki(T)``.

    * ``eta_i(T)``: per-instance noise correlated across T (:func:`correlated_noise`), the same
      for every network (they classify the same instances);
    * ``delta_k ~ N(0, network_offset)``: an offset of network k's whole curve (per L);
    * ``eps_ki(T) ~ N(0, interaction_noise)``: what differs between networks per instance.

    ``mean``: function ``(L, T) -> <p>`` (default: exact scaling ``scaling_function(L^(1/NU)(T - TC))``).
    ``eta``: optional list (per size) of instance noises (n, n_T) to use instead of drawing them
    (classifiers of one data set: draw them once with :func:`correlated_noise`).

    Returns
    -------
    list of ndarray, each shape (n_networks, n, n_T), float64 (not clipped to [0, 1])
    """
    rng = np.random.default_rng(seed)
    T = np.asarray(T, dtype=float)
    mean = mean or (lambda L, T: scaling_function(L ** (1 / NU) * (T - TC)))
    out = []
    for index, L in enumerate(sizes):
        noise = eta[index] if eta is not None else correlated_noise(rng, n, T, instance_noise, correlation_length)
        delta = network_offset * rng.standard_normal(n_networks)
        eps = interaction_noise * rng.standard_normal((n_networks, n, T.size))
        out.append(mean(L, T)[None, None, :] + noise[None] + delta[:, None, None] + eps)
    return out


def prediction_set(curves, sizes=SIZES, T=PREDICTION_TEMPERATURES, classifier="cnn") -> PredictionSet:
    """A PredictionSet of :func:`ensemble_curves` (in memory, no file checks)."""
    return PredictionSet(L=np.array(sizes), temperature=np.asarray(T, float), p=list(curves),
                         paths=[f"synthetic_{classifier}_L{L}.nc" for L in sizes], attrs=[{} for _ in sizes],
                         classifier=classifier)


#: attributes of a synthetic scenario's prediction files (format version 2)
PREDICTION_ATTRS = {"scenario": "clean", "disorder": "bimodal", "t_label": 0.95, "training_disorder": "gaussian",
                    "label_noise": 0.0, "label_noise_mode": "uniform", "training_sweep_fraction": 1.0,
                    "device": "cpu"}


def write_prediction_files(directory, curves, sizes=SIZES, T=PREDICTION_TEMPERATURES, classifier="cnn",
                           clip=True, **attrs) -> list[str]:
    """Write per-network curves (list over sizes of (K, n, n_T)) as prediction files, format version 2.

    One file per (L, network k): ``directory/L{L}/cnn{k}.nc`` for the CNN, ``directory/L{L}/{classifier}.nc``
    for a null model (K = 1), written with :func:`sgpoison.io.formats.write_netcdf`. Values
    are clipped to [0, 1] unless ``clip`` is False. ``attrs`` override :data:`PREDICTION_ATTRS`
    and the per-file defaults (``settings_sha256``, ``training_data_sha256``, ``data_sha256``, ...).

    Returns
    -------
    list of str
        The paths, by size then network.
    """
    from sgpoison.io.formats import PREDICTION_FORMAT

    paths = []
    for L, P in zip(sizes, curves):
        K = P.shape[0]
        for k in range(K):
            p = np.clip(P[k], 0.0, 1.0) if clip else P[k]
            name = f"cnn{k}" if classifier == "cnn" else classifier
            path = Path(directory) / f"L{L}" / f"{name}.nc"
            file_attrs = {"format": PREDICTION_FORMAT, "format_version": 2, "L": int(L), **PREDICTION_ATTRS,
                          "classifier": classifier, "network_index": k,
                          "settings_sha256": f"settings-{classifier}", "training_data_sha256": f"gaussian-L{L}",
                          "data_sha256": f"bimodal-L{L}", "model_sha256": f"model-{classifier}{k}-L{L}",
                          **provenance({"synthetic": "builders.write_prediction_files"}), **attrs}
            ds = xr.Dataset(
                {"p": (("instance", "temperature"), p),
                 "fraction_high": (("instance", "temperature"), (p > 0.5).astype(np.float64))},
                coords={"instance": np.arange(p.shape[0]), "temperature": np.asarray(T, float)},
                attrs=file_attrs)
            paths.append(str(write_netcdf(ds, path)))
    return paths


def synthetic_moments(sizes=(6, 8, 12, 16), n=150, noise=0.3, seed=2, crossing=True) -> list[SizeMoments]:
    """Per-instance moments whose disorder averages follow exact scaling.

    ``xi_L/L = X(L^(1/nu)(T - Tc))`` and ``g = G(...)`` with decreasing X, G when
    ``crossing``; otherwise functions of T alone (no size dependence). The noise is
    added to chi(0) and <q^4> with zero mean, so the ratios of disorder
    averages keep their exact values.
    """
    rng = np.random.default_rng(seed)
    out = []
    for L in sizes:
        x = (L ** (1 / NU) if crossing else 2.0) * (MOMENT_TEMPERATURES - TC)
        X = 0.6 * np.exp(-1.5 * x)            # xi_L / L
        G = 0.5 * (1 - np.tanh(2 * x)) * 0.9  # g
        chik = np.ones((n, MOMENT_TEMPERATURES.size))
        chi0_mean = 1 + (2 * math.sin(math.pi / L) * L * X) ** 2
        chi0 = chi0_mean * (1 + noise * rng.standard_normal((n, MOMENT_TEMPERATURES.size)))
        q2 = np.ones((n, MOMENT_TEMPERATURES.size))
        q4 = (3 - 2 * G) * (1 + 0.3 * noise * rng.standard_normal((n, MOMENT_TEMPERATURES.size)))
        out.append(SizeMoments(L=L, temperature=MOMENT_TEMPERATURES, q2=q2, q4=q4, chi0=chi0, chik=chik,
                               q_overlap_max_deviation=0.0, path=f"sim_L{L}.nc", attrs={"disorder": "bimodal"}))
    return out
