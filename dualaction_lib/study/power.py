"""The power of the paired design: from a table's paired differences, the smallest true difference it
can detect and the seeds a narrower interval would need (``stats.detectable_difference``,
``stats.seeds_for_half_width``).
"""

from __future__ import annotations

import pandas as pd

from dualaction_lib.stats import detectable_difference, seeds_for_half_width
from dualaction_lib.viz.tables import Table


def power_table(table: Table, target: float = 0.03) -> Table:
    """What the design can detect, from a table's paired differences (Table 2's block).

    Per difference: the pairs, the standard deviation of the per-seed differences s_d, the 95 % CI
    half-width, the smallest true difference detected with 80 % power (``stats.detectable_difference``)
    and how many seeds would bring the half-width to ``target`` at this s_d.
    """
    columns = ["pairs", "s_d", "half-width", "detectable (80 % power)", f"seeds for ± {100 * target:g}"]
    records = {}
    for label, cell in table.contrasts().iterrows():
        values = list(cell["seeds"].values()) if isinstance(cell["seeds"], dict) else []
        sd = float(pd.Series(values).std(ddof=1)) if len(values) > 1 else float("nan")
        records[label] = {
            "pairs": int(cell["n"]), "s_d": sd, "half-width": float(cell["ci"]),
            "detectable (80 % power)": detectable_difference(sd, int(cell["n"])),
            f"seeds for ± {100 * target:g}": seeds_for_half_width(sd, target) or "–",
        }  # fmt: skip
    rows = pd.DataFrame.from_dict(records, orient="index", columns=columns)
    caption = (
        f"From the paired differences of {table.title.split(':')[0]}, in percentage points: s_d, the "
        "standard deviation of the per-seed differences; half-width, the 95 % CI's (Student t); "
        "detectable, the smallest true difference the two-sided 95 % paired t-test finds with 80 % "
        "probability at these pairs, (t_0.975 + t_0.80) · s_d / √n with n = pairs; the last column, the "
        f"seeds that would bring the half-width to ± {100 * target:g} points if s_d stayed as measured"
    )
    return Table(
        "power", "Power: the smallest difference this design can detect", caption, rows, layout="plain",
        percent=("s_d", "half-width", "detectable (80 % power)"), header="Paired difference",
    )  # fmt: skip
