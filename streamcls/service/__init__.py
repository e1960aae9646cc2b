"""``streamcls serve``: the pipeline as a long-running service, with a dashboard, an HTTP API and metrics.

``run.py`` holds the service (the pipeline, the thread that consumes it, the
web server); ``board.py`` is the pipeline's sink that keeps what the page and
the API show; ``app.py`` the routes; ``admit.py`` what a remote caller may
add; ``auth.py`` the tokens; ``metrics.py`` the Prometheus collector;
``dashboard.html`` the page (no build step, nothing fetched from elsewhere).
"""
