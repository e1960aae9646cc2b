"""Who drives the stages: ``Pipeline`` (``runner.py``) wires capture, preprocessing,
batched inference (``threads.py``, ``batching.py``) and consumption (postprocess,
overlay, sinks), and reports what a run did (``summary.py``, ``clocks.py``)."""

from streamcls.pipeline.runner import Pipeline
from streamcls.pipeline.summary import RunSummary, SourceSummary

__all__ = ["Pipeline", "RunSummary", "SourceSummary"]
