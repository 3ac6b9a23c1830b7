"""The course's display style and CPU threads, set once for a notebook by `repro.setup()`.

Every notebook's figures share one look: PNG images at 110 dpi (sharp on a laptop screen, small
enough to keep a notebook under 2 MB), 9-point text, legends on a near-opaque background. Tables
are shown as rendered pandas tables with three decimals.
"""

from __future__ import annotations

import matplotlib as mpl
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

__all__ = ["FIGURE_STYLE", "TABLE_DECIMALS", "use_display_style", "use_threads"]

FIGURE_STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "legend.framealpha": 0.9,
}
TABLE_DECIMALS = 3

_thread_limits = []  # keeps the BLAS limit alive for the whole session


def use_display_style() -> None:
    """Apply `FIGURE_STYLE` and `TABLE_DECIMALS`; inside Jupyter, draw inline figures as PNG."""
    mpl.rcParams.update(FIGURE_STYLE)
    pd.set_option("display.precision", TABLE_DECIMALS)
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # plain Python: nothing is drawn inline
        return
    if get_ipython() is not None:
        set_matplotlib_formats("png")


def use_threads(n: int) -> None:
    """Use `n` CPU threads for PyTorch and for NumPy's BLAS.

    Tiny networks and small matrix products run faster on one thread than on several that wait
    on each other, especially on a two-core laptop; it changes nothing on a GPU.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive int, got {n!r}")
    torch.set_num_threads(n)
    _thread_limits[:] = [threadpool_limits(n)]
