"""The reproductions ``biofit reproduce NAME`` knows: one entry per name, in this one place.

Each entry names the module and function to import when the reproduction runs (so the CLI stays
instant) and a one-line description for ``--help``. The function is called as
``function(out=DIR, small=BOOL, device=STR, seeds=INT | None, data=[PATH, ...] | None)`` and
returns the path of its Markdown table. Adding a reproduction is adding a line here.
"""

from __future__ import annotations

import importlib

REPRODUCTIONS = {
    "blocks-fit": ("biofit.experiments.blocks_fit", "run",
                   "2311.11390: ALIF fitted by surrogate gradient at 0.1 vs 1, 4 ms; BlockALIF vs sequential"),
    "meta-vs-lif": ("biofit.experiments.meta_vs_lif", "run",
                    "2508.11674: learned vs fixed intrinsic parameters, LIF vs meta neuron, SNN-LZC"),
    "polara": ("biofit.experiments.polara_vs_lif", "run",
               "Lai & Cao (AAAI-26): POLARA vs LIF on digits, the ablation, gradient norms per layer"),
    "qif": ("biofit.experiments.qif_vs_lif", "run",
            "2510.05168: the discrete QIF map and its derived surrogate window; QIF (+tdBN) vs LIF"),
}


def reproduction(name: str):
    """The function that runs reproduction ``name`` (ValueError listing the known names)."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"unknown reproduction {name!r}; known: {', '.join(REPRODUCTIONS)}")
    module, function, _ = REPRODUCTIONS[name]
    return getattr(importlib.import_module(module), function)
