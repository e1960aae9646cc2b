"""The one place TensorFlow and Keras are imported, and devices are chosen.

Importing TensorFlow takes seconds, so nothing imports it at module level:
``streamcls --help`` and config errors stay instant.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from streamcls.errors import DeviceError


def import_tensorflow() -> Any:
    """Import TensorFlow quietly (its C++ start-up chatter is not for our users)."""
    # Level 3 also hides "failed call to cuInit" on machines without a GPU; --verbose lowers it
    # (the CLI sets it before anything loads: streamcls.quiet.set_native_log_levels).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] != "3":
        import tensorflow  # a level the user chose (or --verbose): they see what it lets through

        return tensorflow
    # TensorFlow's C++ start-up lines ("oneDNN custom operations are on", "Could not
    # find cuda drivers") come before its logging reads TF_CPP_MIN_LOG_LEVEL: silence them
    # for the import only.
    from streamcls.quiet import quiet_native_stderr

    with quiet_native_stderr():
        import tensorflow
    return tensorflow


def import_keras() -> Any:
    """Import Keras 3 on the TensorFlow backend."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import_tensorflow()
    import keras

    return keras


def resolve_device(requested: str) -> str:
    """Map ``auto``/``cpu``/``gpu`` to a TensorFlow device name such as ``/GPU:0``.

    Raises:
        DeviceError: ``gpu`` was asked for and TensorFlow sees none.
    """
    tensorflow = import_tensorflow()
    gpus = tensorflow.config.list_physical_devices("GPU")
    if requested == "gpu" and not gpus:
        raise DeviceError(
            "device 'gpu' was requested but TensorFlow sees no GPU on this machine; "
            "use --device cpu (or auto), or install a CUDA-enabled TensorFlow "
            "(pip install 'tensorflow[and-cuda]')"
        )
    if requested in ("gpu", "auto") and gpus:
        return "/GPU:0"
    return "/CPU:0"
