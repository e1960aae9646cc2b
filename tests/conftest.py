"""Shared fixtures: an empty Keras cache per test, and a deterministic 'offline'; the ``needs`` mark."""

from __future__ import annotations

import os

import pytest
from needs import require

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(condition, reason): skip without the component; fail under CI=true "
                                       "(tests/needs.py)")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """``needs(...)`` marks: checked before any fixture starts (an RTSP server, an X display)."""
    for mark in item.iter_markers("needs"):
        require(*mark.args, **mark.kwargs)


@pytest.fixture(autouse=True)
def keras_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty Keras cache, so none sees real downloads."""
    home = tmp_path_factory.mktemp("keras_home")
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def streamcls_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty conversion cache."""
    folder = tmp_path_factory.mktemp("streamcls_cache")
    monkeypatch.setenv("STREAMCLS_CACHE", str(folder))
    return folder


@pytest.fixture(scope="session")
def toy_bundle(tmp_path_factory):
    """(LoadedModel, bundle path) of a classifier that has learned the toy set; trained once per session."""
    from trained import train_toy_bundle

    return train_toy_bundle(tmp_path_factory.mktemp("toy_bundle"))


@pytest.fixture
def offline(monkeypatch):
    """Make Keras' downloader fail the way it does without network; record what was asked."""
    import keras

    requested: list[str] = []

    def failing_get_file(fname, origin, **kwargs):
        requested.append(fname)
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    return requested
