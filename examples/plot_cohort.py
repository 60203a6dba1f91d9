"""Look at the bundled synthetic CEUS cohort.

Draws four lesions of :func:`ceusradiomics.datasets.make_ceus_cohort`, two with
early recurrence (ER) and two without, in the three phases (grey-scale
ultrasound, arterial and portal CEUS), with the primary reader's ROI outline
(solid) and the second reader's (dashed) where the lesion has one.

Run it as::

    python examples/plot_cohort.py [output.png]

The figure goes to the path given as the first argument, or ``cohort.png``.
"""

import sys

import matplotlib

matplotlib.use("Agg")  # no display needed; must come before pyplot

import matplotlib.pyplot as plt
import numpy as np

from ceusradiomics.datasets import make_ceus_cohort

PHASES = {"US": "grey-scale US", "AP": "arterial phase", "PP": "portal phase"}


def pick_lesions(X, y, per_class=2):
    """Two lesions per class, preferring ones that have a second reading."""
    has_r2 = X["US_mask_r2"].notna()
    chosen = []
    for label in (1, 0):
        ids = y.index[y == label]
        ordered = list(ids[has_r2[ids].to_numpy()]) + list(ids[~has_r2[ids].to_numpy()])
        # One lesion with a second reading and one without, to show both.
        chosen += [ordered[0], ordered[-1]][:per_class]
    return chosen


def main(path="cohort.png"):
    X, y, clinical = make_ceus_cohort(n_lesions=24, random_state=0)
    lesions = pick_lesions(X, y)
    fig, axes = plt.subplots(
        len(lesions), len(PHASES), figsize=(3.2 * len(PHASES), 3.2 * len(lesions))
    )
    for row, lesion in zip(axes, lesions, strict=True):
        for ax, (phase, title) in zip(row, PHASES.items(), strict=True):
            ax.imshow(X.loc[lesion, f"{phase}_image"], cmap="gray", vmin=0, vmax=255)
            outline = dict(levels=[0.5], linewidths=1.0)
            ax.contour(X.loc[lesion, f"{phase}_mask"], colors="tab:orange", **outline)
            second = X.loc[lesion, f"{phase}_mask_r2"]
            if isinstance(second, np.ndarray):  # None where reader 2 did not draw
                ax.contour(second, colors="tab:cyan", linestyles="dashed", **outline)
            ax.set_xticks([])
            ax.set_yticks([])
            if lesion == lesions[0]:
                ax.set_title(title)
        size = clinical.loc[lesion, "size_cm"]
        row[0].set_ylabel(f"{lesion}: ER={y[lesion]}, {size:.1f} cm")
    fig.suptitle("Synthetic CEUS cohort (solid: reader 1, dashed: reader 2)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
