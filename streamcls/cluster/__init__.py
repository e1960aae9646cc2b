"""``streamcls batch``: every video file of an archive classified on Ray (local by default, or a cluster).

``listing.py`` finds the videos; ``manifest.py`` keeps what is finished (and
lets a run resume); ``work.py`` holds what runs on the workers (decoding and
preprocessing tasks, the classifying actors); ``write.py`` turns each video's
results into the same files ``streamcls run`` writes; ``job.py`` ties them
together on the driver.
"""
