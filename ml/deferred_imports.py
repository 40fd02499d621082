"""Optional parts of Keras load on first use instead of with `import keras`.

`import keras` also imports its scikit-learn wrappers (scikit-learn and SciPy) and its
visualization helpers (matplotlib's pyplot): over a second of every TensorFlow stage's start-up
on two cores, for modules the pipeline never calls. Each of those modules is put in place as a
stand-in that imports the real module the first time one of its names is read, so code that
does use them still gets them.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from pathlib import Path

# Keras' public modules and the internal one `keras.src` itself imports, relative to the package.
KERAS_EXTRAS = ("keras.wrappers", "keras.visualization", "keras.src.visualization")


class Deferred(types.ModuleType):
    """Stands in for a module until one of its names is read; then imports it and delegates."""

    def __getattr__(self, name: str):
        # Only names this stand-in lacks come here: its own __spec__, __name__ and so on do
        # not, so the import system can find it in sys.modules without loading the real module.
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, name)


def defer_keras_extras() -> None:
    """Install the stand-ins, unless Keras is already imported or not installed."""
    if "keras" in sys.modules:
        return
    spec = importlib.util.find_spec("keras")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        return
    root = Path(next(iter(spec.submodule_search_locations)))
    for name in KERAS_EXTRAS:
        parts = name.split(".")
        where = str(root.joinpath(*parts[1:-1]))
        module_spec = importlib.machinery.PathFinder.find_spec(name, [where])
        if module_spec is None or name in sys.modules:
            continue
        stand_in = Deferred(name)
        stand_in.__spec__ = module_spec
        stand_in.__file__ = module_spec.origin
        stand_in.__loader__ = module_spec.loader
        stand_in.__package__ = name if module_spec.submodule_search_locations else parts[0]
        sys.modules[name] = stand_in
