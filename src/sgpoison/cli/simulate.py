"""``sgpoison simulate``: one parallel-tempering Monte Carlo job -> NetCDF."""

from __future__ import annotations

import argparse

from tqdm import tqdm

from sgpoison.mc.kernels import KERNELS


def _instance_range(text: str) -> tuple[int, int]:
    try:
        start, stop = (int(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP (e.g. 0:50), got {text!r}") from None
    if start < 0 or stop <= start:
        raise argparse.ArgumentTypeError(f"need 0 <= START < STOP, got {text!r}")
    return start, stop


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "simulate", help="parallel-tempering Monte Carlo of the 3D EA spin glass",
        description="Simulate disorder instances START:STOP with parallel tempering (two replicas "
                    "per temperature) and write overlaps, energies, link overlaps and "
                    "thermalization data to NetCDF (docs/data-format.md).")
    p.add_argument("--L", type=int, required=True, help="linear lattice size (>= 2)")
    p.add_argument("--disorder", required=True, choices=("gaussian", "bimodal"))
    p.add_argument("--instances", type=_instance_range, required=True, metavar="START:STOP",
                   help="global indices of the disorder instances of this job")
    p.add_argument("--n-sweeps", type=int, required=True, help="N_sw, sweeps needed for thermalization")
    p.add_argument("--sweep-fraction", type=float, default=1.0,
                   help="f in (0, 1]: thermalize for round(f N_sw) sweeps only (default 1)")
    p.add_argument("--t-min", type=float, required=True)
    p.add_argument("--t-max", type=float, required=True)
    p.add_argument("--n-temps", type=int, required=True)
    p.add_argument("--ladder", choices=("linear", "geometric"), default="linear")
    p.add_argument("--n-snapshots", type=int, default=100, help="N_con overlaps per temperature")
    p.add_argument("--measure-interval", type=int, default=10, help="sweeps between snapshots")
    p.add_argument("--swap-interval", type=int, default=1, help="sweeps between PT swap attempts")
    p.add_argument("--seed", type=int, default=1, help="master seed (>= 0)")
    p.add_argument("--threads", type=int, default=1, help="OpenMP threads over instances")
    p.add_argument("--kernel", choices=("auto",) + KERNELS, default="auto",
                   help="Monte Carlo kernel (sgpoison.mc.kernels): 'scalar' is the reference, 'lanes' "
                        "updates 8 instances per SIMD vector, 'multispin' (bimodal only) 64 "
                        "instances per machine word; 'auto' (default) picks the fastest tested one "
                        "(lanes for Gaussian, multispin for bimodal). Kernels agree statistically, "
                        "not bitwise.")
    p.add_argument("--checkpoint", default=None, help="checkpoint file; resumes if it exists")
    p.add_argument("--checkpoint-every", type=float, default=600.0, help="seconds between checkpoints")
    p.add_argument("--out", required=True, help="output NetCDF file")
    p.set_defaults(func=run)


def run(args, parser) -> int:
    from sgpoison.mc.parallel_tempering import SimulationParameters, simulate, total_sweeps

    from pathlib import Path

    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    if args.checkpoint_every < 0:
        parser.error(f"--checkpoint-every must be >= 0 seconds, got {args.checkpoint_every}")
    for option, value in (("--out", args.out), ("--checkpoint", args.checkpoint)):
        if value is not None and (Path(value).is_dir() or value.endswith("/")):
            parser.error(f"{option} {value} is a directory; give a file name")
    try:
        params = SimulationParameters(
            L=args.L, disorder=args.disorder, instance_start=args.instances[0],
            instance_stop=args.instances[1], n_sweeps=args.n_sweeps,
            sweep_fraction=args.sweep_fraction, t_min=args.t_min, t_max=args.t_max,
            n_temps=args.n_temps, ladder=args.ladder, n_snapshots=args.n_snapshots,
            measure_interval=args.measure_interval, swap_interval=args.swap_interval, seed=args.seed,
            kernel=args.kernel)
    except ValueError as exc:
        parser.error(_option_names(str(exc)))
    with tqdm(total=total_sweeps(params), unit="sweep", desc=f"L={args.L} {args.disorder}",
              disable=None) as bar:
        try:
            simulate(params, args.out, threads=args.threads, checkpoint=args.checkpoint,
                     checkpoint_every=args.checkpoint_every, progress=bar.update)
        except ValueError as exc:  # a checkpoint of other parameters, or a damaged one
            parser.error(f"--checkpoint: {exc}")
    return 0


#: parameter names of SimulationParameters -> the options that set them
_OPTIONS = {"instance_start": "--instances", "instance_stop": "--instances", "n_sweeps": "--n-sweeps",
            "sweep_fraction": "--sweep-fraction", "t_min": "--t-min", "t_max": "--t-max",
            "n_temps": "--n-temps", "n_snapshots": "--n-snapshots",
            "measure_interval": "--measure-interval", "swap_interval": "--swap-interval",
            "seed": "--seed", "ladder": "--ladder", "kernel": "--kernel", "L": "--L",
            "disorder": "--disorder", "instances": "--instances"}


def _option_names(message: str) -> str:
    """Replace a leading parameter name in a validation message by its option."""
    name = message.split(" ", 1)[0]
    return _OPTIONS[name] + message[len(name):] if name in _OPTIONS else message
