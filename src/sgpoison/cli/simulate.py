"""``sgpoison simulate``: one parallel-tempering Monte Carlo job -> NetCDF.

Before any work the job's memory is estimated (:func:`sgpoison.mc.cost.check_memory`).
SIGTERM (Slurm at a time limit or on preemption) and SIGINT (Ctrl-C) stop the run after the
current kernel call (about a second): the state is saved to ``--checkpoint`` (if given) and
the command exits with 128 + the signal number (143, 130); the same command resumes from
the checkpoint bitwise identically. ``--shared-fraction G OUT`` (repeatable) also writes the
snapshot set of sweep fraction G < f recorded on the way to OUT (docs/workflow.md, "Shared
simulations").
"""

from __future__ import annotations

import argparse
import sys

from sgpoison.cli._common import Files, add_setting, integer_in, output_file
from sgpoison.mc.kernels import KERNELS
from sgpoison.mc.parallel_tempering import SimulationParameters
from sgpoison.settings import THREAD_COUNT


class _SharedFraction(argparse.Action):
    """``--shared-fraction G OUT`` (repeatable) -> ``shared_fractions``: a list of (G, OUT)
    (G's range is checked by :func:`sgpoison.mc.parallel_tempering.shared_parameters`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        text, out = values
        try:
            fraction = float(text)
        except ValueError:
            parser.error(f"argument {option_string}: expected a sweep fraction G and a file, got {text!r} for G")
        try:
            path = output_file()(out)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument {option_string}: {exc}")
        namespace.shared_fractions = (namespace.shared_fractions or []) + [(fraction, path)]


class _InstanceRange(argparse.Action):
    """``--instances START:STOP`` -> ``instance_start``, ``instance_stop`` (their limits are
    checked by SimulationParameters, whose error about them has the key ``instances``)."""

    def __call__(self, parser, namespace, text, option_string=None):
        try:
            start, stop = (int(v) for v in text.split(":"))
        except ValueError:
            parser.error(f"argument {option_string}: expected START:STOP (e.g. 0:50), got {text!r}")
        namespace.instances = text
        namespace.instance_start, namespace.instance_stop = start, stop


def add_parser(subparsers) -> argparse.ArgumentParser:
    P = SimulationParameters
    p = subparsers.add_parser(
        "simulate", help="parallel-tempering Monte Carlo of the 3D EA spin glass",
        description="Simulate disorder instances START:STOP with parallel tempering (two replicas "
                    "per temperature) and write overlaps, energies, link overlaps and "
                    "thermalization data to NetCDF (docs/data-format.md).")
    add_setting(p, P, "L", "--L", required=True, help="linear lattice size")
    add_setting(p, P, "disorder", "--disorder", required=True, help="coupling distribution")
    p.add_argument("--instances", action=_InstanceRange, required=True, metavar="START:STOP",
                   help="global indices of the disorder instances of this job, 0 <= START < STOP")
    add_setting(p, P, "n_sweeps", "--n-sweeps", required=True, help="N_sw, sweeps needed for thermalization")
    add_setting(p, P, "sweep_fraction", "--sweep-fraction",
                help="f: thermalize for round(f N_sw) sweeps only")
    add_setting(p, P, "t_min", "--t-min", required=True, help="lowest temperature of the ladder")
    add_setting(p, P, "t_max", "--t-max", required=True, help="highest temperature of the ladder")
    add_setting(p, P, "n_temps", "--n-temps", required=True, help="number of temperatures")
    add_setting(p, P, "ladder", "--ladder", help="spacing of the temperature ladder")
    add_setting(p, P, "n_snapshots", "--n-snapshots", help="N_con overlaps per temperature")
    add_setting(p, P, "measure_interval", "--measure-interval", help="sweeps between snapshots")
    add_setting(p, P, "swap_interval", "--swap-interval", help="sweeps between PT swap attempts")
    add_setting(p, P, "seed", "--seed", help="master seed")
    p.add_argument("--threads", type=integer_in(THREAD_COUNT), default=1,
                   help=f"OpenMP threads over instances (default 1; {THREAD_COUNT.describe()})")
    p.add_argument("--kernel", choices=("auto",) + KERNELS, default=P.default("kernel"),
                   help="Monte Carlo kernel (sgpoison.mc.kernels): 'scalar' is the reference, 'lanes' "
                        "updates 8 instances per SIMD vector in float64, 'lanes32' (Gaussian only) "
                        "16 in float32, 'multispin' (bimodal only) 64 instances per machine word; "
                        "'auto' (default) picks the fastest tested one (lanes32 for Gaussian, "
                        "multispin for bimodal). Kernels agree statistically, "
                        "not bitwise.")
    p.add_argument("--checkpoint", type=output_file(), default=None,
                   help="checkpoint file (.npz), written every --checkpoint-every seconds and on "
                        "SIGTERM/SIGINT; the run resumes from it if it exists, and removes it "
                        "once --out is written")
    p.add_argument("--checkpoint-every", type=float, default=600.0,
                   help="seconds between checkpoints (default 600)")
    p.add_argument("--out", required=True, type=output_file(), help="output NetCDF file")
    p.add_argument("--shared-fraction", dest="shared_fractions", action=_SharedFraction, nargs=2,
                   metavar=("G", "OUT"), default=[],
                   help="also write to OUT the snapshot set of sweep fraction G (0 < G < --sweep-fraction) "
                        "that this run records on its way: N_con snapshots from sweep round(G N_sw) on, "
                        "the same Markov chain a run of fraction G follows (repeatable; OUT is written "
                        "before --out)")
    p.set_defaults(func=run, settings=SimulationParameters, files=files)
    return p


def files(args: argparse.Namespace) -> Files:
    """The checkpoint is read and written: an output (it must differ from ``--out``)."""
    checkpoint = [args.checkpoint] if args.checkpoint is not None else []
    return Files(outputs={"--checkpoint": checkpoint, "--out": [args.out],
                          "--shared-fraction": [out for _, out in args.shared_fractions]})


def run(args: argparse.Namespace, settings: SimulationParameters) -> int:
    from tqdm import tqdm

    from sgpoison.cli._common import termination_signals
    from sgpoison.mc.cost import check_memory
    from sgpoison.mc.parallel_tempering import shared_parameters, simulate, total_sweeps

    shared_parameters(settings, [g for g, _ in args.shared_fractions])  # a clear error before any work
    check_memory(settings, 1 + len(args.shared_fractions))
    with termination_signals() as received:
        resume = args.checkpoint is not None and args.checkpoint.exists()
        print(f"sgpoison simulate: L={settings.L} {settings.disorder} instances {args.instances}, "
              f"{total_sweeps(settings)} sweeps, kernel {settings.kernel}"
              + (f", resuming from {args.checkpoint}" if resume else ""), file=sys.stderr, flush=True)
        with tqdm(total=total_sweeps(settings), unit="sweep", desc=f"L={args.L} {args.disorder}",
                  disable=None) as bar:
            simulate(settings, args.out, threads=args.threads, checkpoint=args.checkpoint,
                     checkpoint_every=args.checkpoint_every, progress=bar.update, stop=received,
                     shared=args.shared_fractions)
    return 0
