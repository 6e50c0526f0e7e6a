"""The ``biofit`` command.

Subcommands::

    biofit --version
    biofit info                         # versions, Brian2 cython check, torch threads
    biofit lzc --demo [--out DIR]       # LZ76/LZ78 of sources with known entropy rate + figure
    biofit lzc RASTER [--out FEATURES.csv] [--variant lz76|lz78]

Each subcommand imports its (heavy) dependencies only when it runs, so ``biofit --version`` is instant.
The work itself lives in library modules and ``biofit.experiments``; this file only parses arguments.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from biofit import __version__


def _cmd_info(args: argparse.Namespace) -> int:
    import platform

    import brian2
    import numpy
    import torch

    print(f"biofit   {__version__}")
    print(f"python   {platform.python_version()} ({platform.machine()})")
    print(f"numpy    {numpy.__version__}")
    print(f"torch    {torch.__version__} (threads: {torch.get_num_threads()}, "
          f"cuda available: {torch.cuda.is_available()})")
    print(f"brian2   {brian2.__version__}")
    if args.no_compile_check:
        print("cython   (compile check skipped)")
        return 0
    from brian2.codegen.runtime.cython_rt import CythonCodeObject

    ok = CythonCodeObject.is_available()
    print(f"cython   Brian2 cython target {'compiles' if ok else 'DOES NOT compile (numpy fallback)'}")
    return 0 if ok else 1


def _cmd_lzc(args: argparse.Namespace) -> int:
    from biofit.experiments import lzc_demo

    if args.demo == (args.raster is not None):
        raise SystemExit("biofit lzc: give either --demo or a RASTER file (.npy or .csv), not both")
    if args.demo:
        out_dir = Path(args.out or "results")
        lzc_demo.run_demo(out_dir, seed=args.seed, small=args.small)
        return 0
    raster = Path(args.raster)
    out = Path(args.out) if args.out else raster.with_name(raster.stem + "_lzc.csv")
    lzc_demo.raster_features(raster, out, variant=args.variant)
    print(f"wrote {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="biofit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"biofit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    info = sub.add_parser("info", help="versions, Brian2 cython compile check, torch threads")
    info.add_argument("--no-compile-check", action="store_true",
                      help="skip the Brian2 cython test compilation")
    info.set_defaults(func=_cmd_info)

    lzc = sub.add_parser("lzc", help="Lempel-Ziv complexity: demo, or features of a raster file")
    lzc.add_argument("raster", nargs="?", help="raster .npy ([channels, bins] or "
                     "[samples, channels, bins]) or .csv (rows = channels, 0/1)")
    lzc.add_argument("--demo", action="store_true",
                     help="sources with known entropy rates: table + results/lzc_demo.png")
    lzc.add_argument("--out", help="output folder (--demo) or CSV path (RASTER)")
    lzc.add_argument("--variant", choices=("lz76", "lz78"), default="lz76")
    lzc.add_argument("--seed", type=int, default=0, help="seed of the demo's sources")
    lzc.add_argument("--small", action="store_true", help="short sequences (quick check)")
    lzc.set_defaults(func=_cmd_lzc)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"biofit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
