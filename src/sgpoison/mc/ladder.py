"""Temperature ladders for parallel tempering."""

from __future__ import annotations

import numpy as np

from sgpoison.errors import SettingsError
from sgpoison.settings import Range

LADDERS = ("linear", "geometric")
#: temperatures (units of J, k_B = 1)
TEMPERATURE = Range(exclusive_minimum=0)
#: number of temperatures of a ladder (parallel tempering needs a pair)
N_TEMPERATURES = Range(minimum=2, integer=True)


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
    SettingsError (a ValueError)
        If the bounds (:data:`TEMPERATURE`, ``t_min < t_max``), the count
        (:data:`N_TEMPERATURES`) or the kind are invalid; ``key`` names the argument.
    """
    for name, value, limits in (("t_min", t_min, TEMPERATURE), ("t_max", t_max, TEMPERATURE),
                                ("n_temps", n_temps, N_TEMPERATURES)):
        if value not in limits:
            raise SettingsError(f"{name} must be {limits.describe()}, got {value!r}", key=name)
    if t_min >= t_max:
        raise SettingsError(f"t_min ({t_min}) must be smaller than t_max ({t_max})", key="t_min")
    if kind == "linear":
        return np.linspace(t_min, t_max, int(n_temps))
    if kind == "geometric":
        return np.geomspace(t_min, t_max, int(n_temps))
    raise SettingsError(f"unknown ladder {kind!r}; expected one of {LADDERS}", key="ladder")
