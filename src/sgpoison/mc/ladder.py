"""Temperature ladders for parallel tempering."""

from __future__ import annotations

import numpy as np

LADDERS = ("linear", "geometric")


def temperature_ladder(t_min: float, t_max: float, n_temps: int, kind: str = "linear") -> np.ndarray:
    """Temperatures of a parallel-tempering ladder, increasing.

    Parameters
    ----------
    t_min, t_max : float
        Lowest and highest temperature (units of J, k_B = 1), 0 < t_min < t_max.
    n_temps : int
        Number of temperatures, >= 2.
    kind : {'linear', 'geometric'}
        Linear spacing (as in the paper) or T_k = t_min (t_max/t_min)^(k/(n-1))
        (Katzgraber et al., J. Stat. Mech. P03018 (2006)).

    Returns
    -------
    numpy.ndarray, float64, shape (n_temps,)

    Raises
    ------
    ValueError
        If the bounds, count or kind are invalid.
    """
    if not np.isfinite(t_min) or t_min <= 0:
        raise ValueError(f"t_min must be a positive number, got {t_min!r}")
    if not np.isfinite(t_max):
        raise ValueError(f"t_max must be a finite number, got {t_max!r}")
    if t_min >= t_max:
        raise ValueError(f"t_min ({t_min}) must be smaller than t_max ({t_max})")
    if int(n_temps) != n_temps or n_temps < 2:
        raise ValueError(f"n_temps must be an integer >= 2, got {n_temps!r}")
    if kind == "linear":
        return np.linspace(t_min, t_max, int(n_temps))
    if kind == "geometric":
        return np.geomspace(t_min, t_max, int(n_temps))
    raise ValueError(f"unknown ladder {kind!r}; expected one of {LADDERS}")
