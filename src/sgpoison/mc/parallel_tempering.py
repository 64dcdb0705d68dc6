"""Parallel-tempering Monte Carlo of the 3D Edwards-Anderson spin glass.

Drives a compiled sweep kernel (:mod:`sgpoison.mc.kernels`): builds the state of
a batch of disorder instances, runs ``round(f * N_sw)`` thermalization sweeps
with log-binned measurements, then ``n_snapshots`` measurements of the site
overlaps q_i = s_i^alpha s_i^beta separated by ``measure_interval`` sweeps, and
writes one NetCDF file (format in ``docs/data-format.md``). Long runs checkpoint
their complete state and resume bitwise identically.

A run can also record the data of smaller sweep fractions g < f on its way
(``shared_fractions``): the snapshot set that starts after round(g N_sw) sweeps of
the same Markov chain, with the log bins up to that sweep -- what a separate run
of fraction g records, without its sweeps (``docs/workflow.md``, "Shared simulations").

References: Hukushima & Nemoto, J. Phys. Soc. Jpn. 65, 1604 (1996) (parallel
tempering); Katzgraber, Palassini & Young, PRB 63, 184422 (2001) (thermalization
test); Fang, Barzegar & Katzgraber, Mach. Learn.: Sci. Technol. 1, 045001 (2020).
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import xarray as xr

from sgpoison.mc import kernels
from sgpoison.io.atomic import atomic_write
from sgpoison.io.formats import FORMAT_NAME, FORMAT_VERSION, overlap_encoding, write_netcdf
from sgpoison.errors import Interrupted, SettingsError
from sgpoison.mc.disorder import DISORDERS, couplings, instance_seed, monte_carlo_streams
from sgpoison.mc.ladder import LADDERS, N_TEMPERATURES, TEMPERATURE, temperature_ladder
from sgpoison.mc.lattice import SIZE, neighbour_couplings, neighbours
from sgpoison.mc.observables import energy
from sgpoison.io.provenance import provenance
from sgpoison.settings import COUNT, INSTANCE_INDEX, SEED, THREAD_COUNT, Settings, setting

#: spin-flip attempts per call of the scalar kernel (about 1 s), times
#: kernels.RELATIVE_SPEED for the others; sets the granularity of progress and checkpoints
_FLIPS_PER_CALL = 50_000_000

_STATE_ARRAYS = ("spins", "slot_at_temp", "energies", "rng_state", "swap_accepted",
                 "bin_energy", "bin_q2", "bin_link")
_SNAPSHOT_ARRAYS = ("overlap", "energy", "q", "link_overlap")
#: what a snapshot set recorded inside a longer run keeps of the run's state
_FROZEN_ARRAYS = ("bin_energy", "bin_q2", "bin_link", "swap_accepted")


@dataclass(frozen=True)
class SimulationParameters(Settings):
    """Everything that defines a simulation job (and nothing else).

    Constructing an instance checks every value (limits: :data:`sgpoison.mc.lattice.SIZE`,
    :data:`sgpoison.mc.ladder.TEMPERATURE`, ...) and raises
    :class:`~sgpoison.errors.SettingsError` naming the field (``instances`` for the range).

    Attributes
    ----------
    L : int
        Linear size, N = L**3 spins, >= 2.
    disorder : {'gaussian', 'bimodal'}
    instance_start, instance_stop : int
        Global indices [start, stop) of the disorder instances of this job,
        0 <= start < stop <= 2**63 - 1 (:data:`sgpoison.settings.INSTANCE_INDEX`).
    n_sweeps : int
        N_sw, sweeps per replica needed for thermalization (paper Table I/II).
    sweep_fraction : float
        f in (0, 1]; the run thermalizes for round(f * N_sw) sweeps only.
    t_min, t_max, n_temps, ladder
        Temperature ladder (see :func:`sgpoison.mc.ladder.temperature_ladder`).
    n_snapshots : int
        N_con, overlap snapshots per (instance, temperature).
    measure_interval : int
        Sweeps between snapshots.
    swap_interval : int
        Sweeps between parallel-tempering swap attempts.
    seed : int
        Master seed (see :mod:`sgpoison.mc.disorder`).
    kernel : str
        Monte Carlo kernel (:mod:`sgpoison.mc.kernels`); ``'auto'`` is replaced by the
        fastest tested kernel for the disorder, so the stored parameters name the
        kernel that produced the data (kernels agree statistically, not bitwise).
    """

    L: int = setting(limits=SIZE)
    disorder: str = setting(choices=DISORDERS)
    instance_start: int = setting(integer=True)
    instance_stop: int = setting(integer=True)
    n_sweeps: int = setting(limits=COUNT)
    sweep_fraction: float = setting(1.0, exclusive_minimum=0, maximum=1)
    t_min: float = setting(0.8, limits=TEMPERATURE)
    t_max: float = setting(1.21, limits=TEMPERATURE)
    n_temps: int = setting(20, limits=N_TEMPERATURES)
    ladder: str = setting("linear", choices=LADDERS)
    n_snapshots: int = setting(100, limits=COUNT)
    measure_interval: int = setting(10, limits=COUNT)
    swap_interval: int = setting(1, limits=COUNT)
    seed: int = setting(1, limits=SEED)
    kernel: str = "auto"

    def __post_init__(self):
        super().__post_init__()
        start, stop = self.instance_start, self.instance_stop
        if not (start in INSTANCE_INDEX and stop in INSTANCE_INDEX and start < stop):
            raise SettingsError(f"instances must be a range start:stop with 0 <= start < stop <= 2^63 - 1, "
                                f"got {start}:{stop}", key="instances")
        temperature_ladder(self.t_min, self.t_max, self.n_temps, self.ladder)
        object.__setattr__(self, "kernel", kernels.resolve_kernel(self.kernel, self.disorder))

    @property
    def n_sweeps_run(self) -> int:
        """Thermalization sweeps actually run: max(1, round(f * N_sw))."""
        return max(1, int(round(self.sweep_fraction * self.n_sweeps)))

    @property
    def instances(self) -> np.ndarray:
        return np.arange(self.instance_start, self.instance_stop, dtype=np.int64)

    @property
    def temperatures(self) -> np.ndarray:
        return temperature_ladder(self.t_min, self.t_max, self.n_temps, self.ladder)

    @property
    def n_log_bins(self) -> int:
        """Bins 0..K with K the bin of the last thermalization sweep."""
        return (self.n_sweeps_run - 1).bit_length() + 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def shared_run(sweep_fraction: float, shared_fractions: Sequence[float]) -> dict | None:
    """What every file of a run records of the run it came from, as the ``parameters`` entry
    ``shared_run``: None for a run of one sweep fraction, else ``{"sweep_fraction": f,
    "shared_fractions": [g, ...]}`` (largest first), for its own file and the shared ones."""
    if not shared_fractions:
        return None
    return {"sweep_fraction": float(sweep_fraction),
            "shared_fractions": sorted((float(g) for g in shared_fractions), reverse=True)}


def shared_parameters(params: SimulationParameters, shared_fractions: Sequence[float]) -> list[SimulationParameters]:
    """The parameters of the snapshot sets a run of ``params`` also records: ``params`` with
    each sweep fraction g of ``shared_fractions`` (largest first).

    Raises
    ------
    SettingsError (a ValueError, key ``shared_fractions``)
        If a fraction repeats or is not in (0, ``params.sweep_fraction``).
    """
    fractions = [float(g) for g in shared_fractions]
    for g in fractions:
        if not 0 < g < params.sweep_fraction:
            raise SettingsError(f"a shared sweep fraction must lie in (0, {params.sweep_fraction}), the "
                                f"run's own sweep fraction, got {g}", key="shared_fractions")
    if len(set(fractions)) < len(fractions):
        raise SettingsError(f"shared sweep fractions repeat: {', '.join(str(g) for g in fractions)}",
                            key="shared_fractions")
    return [dataclasses.replace(params, sweep_fraction=g) for g in sorted(fractions, reverse=True)]


def log_bins(n_sweeps_run: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start, stop (exclusive) and number of sweeps of each logarithmic bin.

    Sweeps are indexed t = 0, 1, ...; bin 0 holds t = 0 and bin k >= 1 holds
    2^(k-1) <= t < 2^k, cut at ``n_sweeps_run``.
    """
    k = np.arange((n_sweeps_run - 1).bit_length() + 1)
    start = np.where(k == 0, 0, 2 ** np.maximum(k - 1, 0))
    stop = np.minimum(np.where(k == 0, 1, 2**k), n_sweeps_run)
    return start.astype(np.int64), stop.astype(np.int64), (stop - start).astype(np.int64)


class SnapshotSet:
    """The recorded data of one sweep fraction: the snapshot arrays ``overlap``
    (n_inst, n_T, n_con, N) int8, ``energy`` (n_inst, n_T, n_con, 2), ``q`` and
    ``link_overlap`` (n_inst, n_T, n_con), filled up to ``snapshots_done``, and -- for a
    set recorded inside a longer run (``frozen``) -- copies of the log bins taken after its
    ``params.n_sweeps_run`` thermalization sweeps and of the swap counts after its last snapshot.
    """

    def __init__(self, params: SimulationParameters, frozen: bool = False):
        n_inst, N, n_T, n_con = len(params.instances), params.L**3, params.n_temps, params.n_snapshots
        self.params = params
        self.frozen = frozen
        self.snapshots_done = 0
        self.overlap = np.zeros((n_inst, n_T, n_con, N), dtype=np.int8)
        self.energy = np.zeros((n_inst, n_T, n_con, 2))
        self.q = np.zeros((n_inst, n_T, n_con))
        self.link_overlap = np.zeros((n_inst, n_T, n_con))
        if frozen:
            shape = (n_inst, n_T, params.n_log_bins)
            self.bin_energy, self.bin_q2, self.bin_link = np.zeros(shape), np.zeros(shape), np.zeros(shape)
            self.swap_accepted = np.zeros((n_inst, 2, n_T - 1), dtype=np.int64)

    @property
    def arrays(self) -> tuple[str, ...]:
        return _SNAPSHOT_ARRAYS + (_FROZEN_ARRAYS if self.frozen else ())

    @property
    def done(self) -> bool:
        return self.snapshots_done == self.params.n_snapshots

    @property
    def next_snapshot(self) -> int:
        """The sweep count at which the next snapshot is taken."""
        return self.params.n_sweeps_run + self.snapshots_done * self.params.measure_interval


class SimulationState:
    """The complete mutable state of a batch run (all arrays C-contiguous).

    Arrays: see :mod:`sgpoison.mc._kernel`; plus ``sweeps_done`` (int), the
    :class:`SnapshotSet` of the run's own sweep fraction in ``sets[0]`` (its arrays
    also as attributes ``overlap``, ``energy``, ``q``, ``link_overlap``, ``snapshots_done``)
    and one frozen set per fraction of ``shared_fractions``, largest first.
    """

    def __init__(self, params: SimulationParameters, shared_fractions: Sequence[float] = ()):
        p = params
        n_inst, N, n_T = len(p.instances), p.L**3, p.n_temps
        self.couplings = np.stack([couplings(p.L, p.disorder, p.seed, n) for n in p.instances])
        self.neighbour_couplings = np.ascontiguousarray(neighbour_couplings(self.couplings))
        self.spins = np.empty((n_inst, 2, n_T, N), dtype=np.int8)
        self.rng_state = np.empty((n_inst, 2, 4), dtype=np.uint64)
        self.energies = np.empty((n_inst, 2, n_T), dtype=np.float64)
        for b, n in enumerate(p.instances):
            streams, init_seed = monte_carlo_streams(p.seed, p.disorder, n)
            self.rng_state[b] = streams
            init = np.random.Generator(np.random.PCG64(init_seed))
            self.spins[b] = np.where(init.random((2, n_T, N)) < 0.5, -1, 1).astype(np.int8)
            self.energies[b] = energy(self.spins[b], self.couplings[b])
        self.slot_at_temp = np.ascontiguousarray(np.broadcast_to(
            np.arange(n_T, dtype=np.int32), (n_inst, 2, n_T)))
        self.swap_accepted = np.zeros((n_inst, 2, n_T - 1), dtype=np.int64)
        shape = (n_inst, n_T, p.n_log_bins)
        self.bin_energy = np.zeros(shape)
        self.bin_q2 = np.zeros(shape)
        self.bin_link = np.zeros(shape)
        self.sweeps_done = 0
        self.sets = [SnapshotSet(p)] + [SnapshotSet(shared, frozen=True)
                                        for shared in shared_parameters(p, shared_fractions)]

    # the run's own snapshot set
    overlap = property(lambda self: self.sets[0].overlap)
    energy = property(lambda self: self.sets[0].energy)
    q = property(lambda self: self.sets[0].q)
    link_overlap = property(lambda self: self.sets[0].link_overlap)
    snapshots_done = property(lambda self: self.sets[0].snapshots_done)

    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        arrays = {name: getattr(self, name) for name in _STATE_ARRAYS}
        for i, snapshots in enumerate(self.sets):
            prefix = "" if i == 0 else f"shared{i}_"
            arrays |= {prefix + name: getattr(snapshots, name) for name in snapshots.arrays}
        return arrays

    def _parameters_json(self) -> str:
        stored = self.sets[0].params.to_dict()
        if len(self.sets) > 1:
            stored["shared_fractions"] = [s.params.sweep_fraction for s in self.sets[1:]]
        return json.dumps(stored, sort_keys=True)

    # -- checkpointing -------------------------------------------------------------
    def save(self, path: Path, params: SimulationParameters) -> None:
        """Write the state to ``path`` (NumPy .npz format, whatever its name) atomically,
        creating its directory."""
        arrays = self._checkpoint_arrays()
        counters = np.array([self.sweeps_done] + [s.snapshots_done for s in self.sets])

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as stream:  # a file object: np.savez appends no ".npz" to the name
                np.savez(stream, parameters=self._parameters_json(), counters=counters, **arrays)

        atomic_write(path, write)

    def load(self, path: Path, params: SimulationParameters) -> None:
        """Restore the state from a checkpoint written by :meth:`save`.

        Raises
        ------
        SettingsError (a ValueError, key ``checkpoint``)
            If the checkpoint belongs to other parameters (the message lists the
            parameters that differ) or is damaged.
        """
        def damaged(exc: BaseException) -> SettingsError:
            return SettingsError(f"checkpoint {path} is damaged or not a checkpoint ({type(exc).__name__}); "
                                 "delete it to start afresh", key="checkpoint")

        errors = (OSError, KeyError, EOFError, ValueError, zipfile.BadZipFile, zlib.error)
        try:
            data = np.load(path, allow_pickle=False)
        except errors as exc:
            raise damaged(exc) from exc
        with data:
            try:
                stored = json.loads(str(data["parameters"]))
            except errors as exc:
                raise damaged(exc) from exc
            # the parameters first: other parameters (e.g. other shared fractions) store other arrays
            stored.setdefault("kernel", "scalar")  # checkpoints from before kernels.py
            current = json.loads(self._parameters_json())
            differing = sorted(k for k in set(stored) | set(current) if stored.get(k) != current.get(k))
            if differing:
                changes = ", ".join(f"{k}: checkpoint {stored.get(k)}, now {current.get(k)}" for k in differing)
                raise SettingsError(f"checkpoint {path} was written for other parameters ({changes}); "
                                    "delete it or use another --checkpoint path", key="checkpoint")
            targets = self._checkpoint_arrays()
            try:
                arrays = {name: data[name] for name in targets}
                counters = data["counters"]
            except errors as exc:
                raise damaged(exc) from exc
        for name, value in arrays.items():
            if value.shape != targets[name].shape:
                raise SettingsError(f"checkpoint {path}: array {name!r} has shape {value.shape}, expected "
                                    f"{targets[name].shape}", key="checkpoint")
            targets[name][...] = value
        self.sweeps_done = int(counters[0])
        for snapshots, done in zip(self.sets, counters[1:]):
            snapshots.snapshots_done = int(done)

    # -- measurement ---------------------------------------------------------------
    def record_snapshot(self, neighbour_table: np.ndarray, snapshots: SnapshotSet | None = None) -> None:
        """Store overlaps, energies per spin, q and q_l of the current configurations in
        ``snapshots`` (default: the run's own set); a frozen set also copies the log bins at its
        first snapshot and the swap counts at its last."""
        snapshots = self.sets[0] if snapshots is None else snapshots
        N = neighbour_table.shape[0]
        k = snapshots.snapshots_done
        if snapshots.frozen and k == 0:
            n_bins = snapshots.params.n_log_bins
            for name in ("bin_energy", "bin_q2", "bin_link"):
                getattr(snapshots, name)[...] = getattr(self, name)[..., :n_bins]
        slots = self.slot_at_temp[..., None]  # (n_inst, 2, n_T, 1)
        sa = np.take_along_axis(self.spins[:, 0], slots[:, 0], axis=1)
        sb = np.take_along_axis(self.spins[:, 1], slots[:, 1], axis=1)
        qi = sa * sb
        snapshots.overlap[:, :, k] = qi
        snapshots.energy[:, :, k] = (np.take_along_axis(self.energies, self.slot_at_temp, axis=2)
                                     .transpose(0, 2, 1) / N)
        snapshots.q[:, :, k] = qi.mean(axis=-1, dtype=np.float64)
        nb = neighbour_table[:, :3]
        qf = qi.astype(np.float64)
        snapshots.link_overlap[:, :, k] = np.mean(qf[..., :, None] * qf[..., nb], axis=(-2, -1))
        snapshots.snapshots_done += 1
        if snapshots.frozen and snapshots.done:
            snapshots.swap_accepted[...] = self.swap_accepted


def _run(state: SimulationState, params: SimulationParameters, neighbour_table: np.ndarray,
         betas: np.ndarray, n_sweeps: int, measure: bool, threads: int) -> None:
    kernels.run_sweeps(params.kernel, state, neighbour_table, betas, state.sweeps_done, n_sweeps,
                       params.swap_interval, measure, threads, params.disorder)
    state.sweeps_done += n_sweeps


def total_sweeps(params: SimulationParameters) -> int:
    """Sweeps of the whole job: thermalization plus the measurement phase."""
    return params.n_sweeps_run + (params.n_snapshots - 1) * params.measure_interval


def run(params: SimulationParameters, threads: int = 1, checkpoint: str | os.PathLike | None = None,
        checkpoint_every: float = 600.0, progress: Callable[[int], None] | None = None,
        stop: Callable[[], int | None] | None = None,
        shared_fractions: Sequence[float] = ()) -> SimulationState:
    """Run (or resume) a simulation job and return its final state.

    Parameters
    ----------
    params : SimulationParameters
    threads : int
        OpenMP threads (parallel over instances); results do not depend on it.
    checkpoint : path-like, optional
        Checkpoint file (.npz). If it exists the run resumes from it; it is
        rewritten every ``checkpoint_every`` seconds of wall time.
    progress : callable, optional
        Called with the number of sweeps just done.
    stop : callable, optional
        Called after every kernel call (about a second of work); a signal number instead
        of None (``sgpoison.cli._common.termination_signals``) ends the run: the
        checkpoint, if any, is written and :class:`~sgpoison.errors.Interrupted` raised.
    shared_fractions : sequence of float
        Sweep fractions g < ``params.sweep_fraction`` whose snapshot sets the run also records
        (``state.sets[1:]``): N_con snapshots from sweep round(g N_sw) on, ``measure_interval``
        apart, with the log bins of the first round(g N_sw) sweeps. The chain is the run's own,
        so these sets are what a separate run of fraction g records, up to the rounding of the
        energies in the swap decisions of measuring sweeps (``docs/workflow.md``).

    Raises
    ------
    SettingsError (a ValueError)
        If ``threads`` is not in [1, 2^31 - 1], ``checkpoint_every < 0``, a shared fraction is
        invalid (:func:`shared_parameters`) or the checkpoint does not match.
    Interrupted
        When ``stop`` returns a signal number.
    """
    if threads not in THREAD_COUNT:
        raise SettingsError(f"threads must be {THREAD_COUNT.describe()}, got {threads!r}", key="threads")
    if not checkpoint_every >= 0:
        raise SettingsError(f"checkpoint_every must be >= 0 seconds, got {checkpoint_every!r}",
                            key="checkpoint_every")
    state = SimulationState(params, shared_fractions)
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        state.load(ckpt, params)
        if progress:
            progress(state.sweeps_done)
    table = neighbours(params.L)
    betas = 1.0 / params.temperatures
    flips_per_sweep = len(params.instances) * 2 * params.n_temps * params.L**3
    chunk = max(1, _FLIPS_PER_CALL * kernels.RELATIVE_SPEED[params.kernel] // flips_per_sweep)
    last_save = time.monotonic()
    n_run = params.n_sweeps_run
    while not state.sets[0].done:
        due = [s for s in state.sets if not s.done and s.next_snapshot == state.sweeps_done]
        for snapshots in due:
            state.record_snapshot(table, snapshots)
        n = 0
        if not due:
            # thermalization (log-binned measurements) up to n_run, stopping at every snapshot
            end = min([s.next_snapshot for s in state.sets if not s.done]
                      + ([n_run] if state.sweeps_done < n_run else []))
            n = min(chunk, end - state.sweeps_done)
            _run(state, params, table, betas, n, state.sweeps_done < n_run, threads)
        if progress and n:
            progress(n)
        signum = stop() if stop is not None else None
        if ckpt is not None and (signum is not None or time.monotonic() - last_save >= checkpoint_every):
            state.save(ckpt, params)
            last_save = time.monotonic()
        if signum is not None:
            raise Interrupted(_interruption(state, params, ckpt, signum), signum)
    return state


def _interruption(state: SimulationState, params: SimulationParameters, ckpt: Path | None, signum: int) -> str:
    """The message of a run stopped by signal ``signum``: where it stopped, what was saved."""
    name = signal.Signals(signum).name
    n_run = params.n_sweeps_run
    where = (f"{state.sweeps_done} of {n_run} thermalization sweeps" if state.sweeps_done < n_run else
             f"{state.snapshots_done} of {params.n_snapshots} snapshots")
    saved = (f"state saved to the checkpoint {ckpt}; run the same command again to resume from it"
             if ckpt is not None else "no --checkpoint was given, so the run starts afresh next time")
    return f"stopped by {name} after {where}; {saved}"


def to_dataset(state: SimulationState, params: SimulationParameters) -> xr.Dataset:
    """Assemble the documented NetCDF dataset (``docs/data-format.md``) of the snapshot set of
    ``params`` (the run's own, or a shared fraction's: :func:`shared_parameters`) from a finished
    state. A shared set's file records ``recorded_in_run_with_sweep_fraction``.

    Raises
    ------
    ValueError
        If the state has no snapshot set of ``params``.
    """
    p = params
    try:
        snapshots = next(s for s in state.sets if s.params == p)
    except StopIteration:
        raise ValueError(f"the run recorded no snapshot set of sweep fraction {p.sweep_fraction:g} "
                         f"with these parameters") from None
    bins = snapshots if snapshots.frozen else state
    L, N = p.L, p.L**3
    n_inst = len(p.instances)
    start, stop, count = log_bins(p.n_sweeps_run)
    swaps = max(1, total_sweeps(p) // p.swap_interval)
    grid = (n_inst, p.n_temps, p.n_snapshots, L, L, L)
    ds = xr.Dataset(
        data_vars={
            "overlap": (("instance", "temperature", "snapshot", "x", "y", "z"), snapshots.overlap.reshape(grid)),
            "energy": (("instance", "temperature", "snapshot", "replica"), snapshots.energy),
            "q": (("instance", "temperature", "snapshot"), snapshots.q),
            "link_overlap": (("instance", "temperature", "snapshot"), snapshots.link_overlap),
            "energy_log_binned": (("instance", "temperature", "log_bin"), bins.bin_energy / count),
            "q2_log_binned": (("instance", "temperature", "log_bin"), bins.bin_q2 / count),
            "link_overlap_log_binned": (("instance", "temperature", "log_bin"), bins.bin_link / count),
            "swap_acceptance": (("instance", "temperature_pair", "replica"),
                                bins.swap_accepted.transpose(0, 2, 1) / swaps),
            "couplings": (("instance", "x", "y", "z", "direction"), state.couplings),
            "instance_seed": (("instance",), np.array(
                [instance_seed(p.seed, p.disorder, n) for n in p.instances], dtype=np.uint64)),
        },
        coords={
            "instance": p.instances,
            "temperature": p.temperatures,
            "snapshot": np.arange(p.n_snapshots),
            "x": np.arange(L), "y": np.arange(L), "z": np.arange(L),
            "replica": np.arange(2), "direction": np.arange(3),
            "log_bin": np.arange(len(count)),
            "log_bin_start": ("log_bin", start), "log_bin_stop": ("log_bin", stop),
            "log_bin_count": ("log_bin", count),
            "temperature_pair": np.arange(p.n_temps - 1),
        },
    )
    ds["temperature"].attrs.update(units="J/k_B", long_name="temperature T")
    ds["energy"].attrs.update(long_name="energy per spin H/N", units="J")
    ds["overlap"].attrs.update(long_name="site overlap q_i = s_i^alpha s_i^beta",
                               site_order="i = (x*L + y)*L + z")
    ds["couplings"].attrs.update(long_name="J of the bond from (x,y,z) to its +direction neighbour")
    params_dict = p.to_dict()
    params_dict["instances"] = f"{p.instance_start}:{p.instance_stop}"
    params_dict["shared_run"] = shared_run(state.sets[0].params.sweep_fraction,
                                           [s.params.sweep_fraction for s in state.sets[1:]])
    ds.attrs.update(
        format=FORMAT_NAME, format_version=FORMAT_VERSION, L=L, disorder=p.disorder,
        n_sweeps=p.n_sweeps, sweep_fraction=p.sweep_fraction, n_sweeps_run=p.n_sweeps_run,
        n_snapshots=p.n_snapshots, measure_interval=p.measure_interval,
        swap_interval=p.swap_interval, seed=p.seed, ladder=p.ladder,
        n_spins=N, **provenance(params_dict),
    )
    if snapshots.frozen:
        ds.attrs["recorded_in_run_with_sweep_fraction"] = state.sets[0].params.sweep_fraction
    return ds


def simulate(params: SimulationParameters, out: str | os.PathLike, threads: int = 1,
             checkpoint: str | os.PathLike | None = None, checkpoint_every: float = 600.0,
             progress: Callable[[int], None] | None = None,
             stop: Callable[[], int | None] | None = None,
             shared: Sequence[tuple[float, str | os.PathLike]] = ()) -> Path:
    """Run a simulation job and write its NetCDF file(s) atomically; remove the checkpoint after.

    ``stop``: see :func:`run`. ``shared``: (sweep fraction g, output file) pairs of the snapshot
    sets the run also records (``shared_fractions`` of :func:`run`), one file each.

    Returns
    -------
    pathlib.Path
        The written file ``out`` (the shared fractions' files are at the paths given).

    Raises
    ------
    SettingsError (a ValueError)
        If two of ``checkpoint``, ``out`` and the shared outputs are the same file (a finished
        output would be overwritten or removed as the checkpoint), and as :func:`run`.
    """
    outs = [out] + [path for _, path in shared]
    seen = {}
    for path in outs:
        if checkpoint is not None and os.path.realpath(checkpoint) == os.path.realpath(path):
            raise SettingsError(f"the checkpoint {checkpoint} is the output file {path}; "
                                "give the checkpoint another name", key="checkpoint")
        if os.path.realpath(path) in seen:
            raise SettingsError(f"two outputs are the same file: {seen[os.path.realpath(path)]} and {path}",
                                key="out")
        seen[os.path.realpath(path)] = path
    fractions = [g for g, _ in shared]
    shared_params = {g.sweep_fraction: g for g in shared_parameters(params, fractions)}
    state = run(params, threads=threads, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                progress=progress, stop=stop, shared_fractions=fractions)
    for g, path in shared:
        ds = to_dataset(state, shared_params[float(g)])
        write_netcdf(ds, path, encoding=overlap_encoding(ds))
    ds = to_dataset(state, params)  # last: a present ``out`` means every file of the job is written
    written = write_netcdf(ds, out, encoding=overlap_encoding(ds))
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return written
