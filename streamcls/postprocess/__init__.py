"""Postprocessing: probabilities become a ``Prediction`` (top-k, threshold, smoothing,
hysteresis: ``predict.py``, ``temporal.py``), and predictions become label segments
(``segments.py``)."""

from streamcls.postprocess.predict import UNKNOWN, Postprocessor

__all__ = ["UNKNOWN", "Postprocessor"]
