"""Synthetic simulation files for testing the classifier (not physics).

Below ``t_order`` each overlap snapshot is an ordered domain: a global sign
s = +-1 (drawn per snapshot) times sites that agree with it with probability
(1 + m) / 2, so |q| ~ m; above ``t_order`` the sites are independent random
+-1 (q ~ 0). A network separates the two easily, so a correct training
pipeline reaches high validation accuracy in a few hundred steps. The file has
every variable and attribute of the simulation format (docs/data-format.md);
the variables other than ``overlap`` are placeholders.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

from sgpoison.fss.chain import PredictionSet
from sgpoison.fss.conventional import SizeMoments
from sgpoison.io.formats import FORMAT_NAME, FORMAT_VERSION, overlap_encoding, write_netcdf


def synthetic_overlaps(L: int, temperatures, n_instances: int, n_snapshots: int, seed: int = 0,
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


def write_synthetic_simulation(path, L: int = 4, n_instances: int = 12, n_temperatures: int = 6,
                               t_min: float = 0.8, t_max: float = 1.1, n_snapshots: int = 20,
                               disorder: str = "gaussian", sweep_fraction: float = 1.0, seed: int = 0,
                               t_order: float = 0.95, magnetization: float = 0.8,
                               first_instance: int = 0) -> Path:
    """Write a synthetic simulation file in the documented format; return its path."""
    T = np.linspace(t_min, t_max, n_temperatures)
    q = synthetic_overlaps(L, T, n_instances, n_snapshots, seed, t_order, magnetization)
    n_log = 3
    dims6 = ("instance", "temperature", "snapshot", "x", "y", "z")
    zeros = lambda *shape: np.zeros(shape, dtype=np.float64)  # noqa: E731
    ds = xr.Dataset(
        {
            "overlap": (dims6, q),
            "energy": (("instance", "temperature", "snapshot", "replica"),
                       zeros(n_instances, n_temperatures, n_snapshots, 2)),
            "q": (("instance", "temperature", "snapshot"), q.mean(axis=(3, 4, 5), dtype=np.float64)),
            "link_overlap": (("instance", "temperature", "snapshot"),
                             zeros(n_instances, n_temperatures, n_snapshots)),
            "energy_log_binned": (("instance", "temperature", "log_bin"), zeros(n_instances, n_temperatures, n_log)),
            "q2_log_binned": (("instance", "temperature", "log_bin"), zeros(n_instances, n_temperatures, n_log)),
            "link_overlap_log_binned": (("instance", "temperature", "log_bin"),
                                        zeros(n_instances, n_temperatures, n_log)),
            "swap_acceptance": (("instance", "temperature_pair", "replica"),
                                zeros(n_instances, n_temperatures - 1, 2)),
            "couplings": (("instance", "x", "y", "z", "direction"),
                          np.zeros((n_instances, L, L, L, 3), dtype=np.float32)),
            "instance_seed": (("instance",), np.arange(n_instances, dtype=np.uint64)),
        },
        coords={
            "instance": np.arange(first_instance, first_instance + n_instances, dtype=np.int64),
            "temperature": T,
            "snapshot": np.arange(n_snapshots),
            "x": np.arange(L), "y": np.arange(L), "z": np.arange(L),
            "replica": [0, 1], "direction": [0, 1, 2],
            "log_bin": np.arange(1, n_log + 1),
        },
        attrs={
            "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "L": L, "disorder": disorder,
            "n_sweeps": 64, "sweep_fraction": sweep_fraction, "n_sweeps_run": int(round(64 * sweep_fraction)),
            "n_snapshots": n_snapshots, "measure_interval": 1, "swap_interval": 1, "seed": seed,
            "ladder": "linear", "sgpoison_version": "test", "git_commit": "unknown",
            "created": "1970-01-01T00:00:00+00:00",
            "parameters": json.dumps({"synthetic": True, "t_order": t_order, "magnetization": magnetization}),
        },
    )
    return write_netcdf(ds, path, encoding=overlap_encoding(ds))


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
