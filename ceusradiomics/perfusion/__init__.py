r"""Perfusion quantification of contrast-enhanced ultrasound cine loops.

Pure functions from a cine loop (``frames`` of shape ``(n, rows, columns)``
and acquisition ``times`` in seconds after the injection) to the
time-intensity curve (TIC) of a region of interest, its bolus-model fit and
the perfusion parameters of Bracco's VueBox [1]_ (``PE``, ``TTP``, ``RT``,
``mTTI``, ``WiAUC``, ``WiR``, ``WiPI``, ``WoR``, ``WoAUC``, ``WiWoAUC``,
``FT``, ``QOF``), the EFSUMB liver phase windows [2]_, the CEUS LI-RADS
wash-out onset [3]_ and the choice of one arterial and one portal-venous
frame, so that the static (one frame per phase) pipeline runs on cine input.

The workflow for one ROI::

    intensity = time_intensity_curve(frames, mask, linearize="log")
    fit = fit_bolus(times, intensity, model="lognormal")
    parameters = perfusion_parameters(fit)

:class:`ceusradiomics.PerfusionExtractor` runs it over the records frame.
Only numpy and scipy are used here; the scikit-learn wrapper lives elsewhere.

References
----------
.. [1] Bracco Suisse SA, "VueBox quantification toolbox, instructions for
   use", bolus perfusion model and parameters (PE, WiAUC, RT, mTTI, TTP,
   WiR, WiPI, WoAUC, WiWoAUC, FT, WoR, QOF).
.. [2] C. F. Dietrich et al., "Guidelines and good clinical practice
   recommendations for contrast-enhanced ultrasound (CEUS) in the liver -
   update 2020 - WFUMB in cooperation with EFSUMB, AFSUMB, AIUM, and FLAUS,"
   Ultraschall Med., vol. 41, no. 5, pp. 562-585, 2020.
   :doi:`10.1055/a-1177-0530`
.. [3] Y. Kono et al., "Contrast enhanced ultrasound (CEUS) liver imaging
   reporting and data system (LI-RADS): the official version by the American
   College of Radiology (ACR)," Ultraschall Med., vol. 38, no. 1,
   pp. 85-86, 2017. :doi:`10.1055/s-0042-124369`
"""

# One private module per concern: _models (the bolus models), _curves
# (time-intensity curves), _fit (the bolus fit), _parameters (the VueBox
# parameters) and _phases (liver phases, wash-out onset, phase frames); every
# public name is re-exported here.
#
# The API reference (mkdocstrings, members_order: source) lists the members in
# the order of these imports: keep them in the order of the workflow.
# isort: off
from ceusradiomics.perfusion._models import (
    BOLUS_MODELS,
    lognormal_bolus,
    gamma_variate,
    ldrw_bolus,
)
from ceusradiomics.perfusion._curves import (
    linearize_intensity,
    frame_correlation,
    time_intensity_curve,
)
from ceusradiomics.perfusion._fit import BolusFit, fit_bolus
from ceusradiomics.perfusion._parameters import (
    PERFUSION_PARAMETERS,
    perfusion_parameters,
)
from ceusradiomics.perfusion._phases import (
    LIVER_PHASE_WINDOWS,
    liver_phase,
    washout_onset,
    PhaseFrames,
    select_phase_frames,
)
# isort: on

# Private, kept importable from here for ceusradiomics._perfusion_estimator.
from ceusradiomics.perfusion._fit import (
    _DegenerateCurveError as _DegenerateCurveError,
)

__all__ = [
    "BOLUS_MODELS",
    "LIVER_PHASE_WINDOWS",
    "PERFUSION_PARAMETERS",
    "BolusFit",
    "PhaseFrames",
    "fit_bolus",
    "frame_correlation",
    "gamma_variate",
    "ldrw_bolus",
    "linearize_intensity",
    "liver_phase",
    "lognormal_bolus",
    "perfusion_parameters",
    "select_phase_frames",
    "time_intensity_curve",
    "washout_onset",
]
