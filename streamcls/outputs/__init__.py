"""Outputs: the ``Sink`` protocol (``sink.py``), the sinks of the registry
(``predictions``, ``segments``, ``video``, ``window``), the grid that tiles several
sources, the overlay drawn on frames, and which sinks a run opens (``open.py``)."""
