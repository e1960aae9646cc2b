"""``streamcls train`` / ``evaluate``: labelled data in, a trained bundle and its metrics out."""
