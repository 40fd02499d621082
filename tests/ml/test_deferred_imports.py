"""Keras' optional modules stay out of `import keras` and still work when used."""

from __future__ import annotations

import json
import os
import sys

from tests.helpers import run
from tests.paths import REPO_ROOT

# A fresh interpreter: this test process has imported Keras (and scikit-learn) already.
PROBE = """
import json, sys
from ml.deferred_imports import defer_keras_extras
defer_keras_extras()
import keras
loaded = {name: name in sys.modules for name in ("sklearn", "matplotlib.pyplot")}
used = {
    "classifier": keras.wrappers.SKLearnClassifier.__name__,
    "gallery": callable(keras.visualization.plot_image_gallery),
    "sklearn_now": "sklearn" in sys.modules,
}
print(json.dumps({"loaded": loaded, "used": used}))
"""


def test_keras_loads_without_its_wrappers_and_plots_until_they_are_used():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = run([sys.executable, "-c", PROBE], REPO_ROOT, env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] == {"sklearn": False, "matplotlib.pyplot": False}
    used = {"classifier": "SKLearnClassifier", "gallery": True, "sklearn_now": True}
    assert report["used"] == used


KERAS_FIRST = """
import keras
from ml.deferred_imports import Deferred, defer_keras_extras
defer_keras_extras()
print(isinstance(keras.wrappers, Deferred), type(keras.wrappers.SKLearnClassifier).__name__)
"""


def test_nothing_is_deferred_once_keras_is_imported():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = run([sys.executable, "-c", KERAS_FIRST], REPO_ROOT, env)
    assert result.stdout.strip().splitlines()[-1] == "False type"
