"""Every public function and class (and every public method of those classes) says what it does."""

import importlib
import inspect
import pkgutil

import mapisync_ctypes


def _public_modules():
    yield mapisync_ctypes
    for info in pkgutil.walk_packages(mapisync_ctypes.__path__, "mapisync_ctypes."):
        last = info.name.rsplit(".", 1)[1]
        if last in ("mapisync_native", "mapisync_refhost"):  # the native libraries (.so), not modules
            continue
        if not any(part.startswith("_") for part in info.name.split(".")[1:]):
            yield importlib.import_module(info.name)


def test_every_public_function_and_class_has_a_docstring():
    missing = []
    for module in _public_modules():
        for name in getattr(module, "__all__", []):
            value = getattr(module, name)
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue  # constants and Interface declarations
            if not value.__module__.startswith("mapisync_ctypes"):
                continue  # ctypes' own types under their Windows names (ULONG is c_uint32)
            doc = (value.__doc__ or "").strip()
            if not doc or doc.startswith(f"{name}("):  # a dataclass's generated signature is no docstring
                missing.append(f"{module.__name__}.{name}")
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not inspect.isfunction(member):
                        continue
                    if not inspect.getdoc(getattr(value, attr)):  # an override may keep its base's
                        missing.append(f"{module.__name__}.{name}.{attr}")
    assert not sorted(set(missing)), sorted(set(missing))
