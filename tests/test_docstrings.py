"""Every public docstring passes numpydoc validation (the docs build's rules).

The checks, exclusions and overrides are read from ``docs/conf.py`` so the
test suite and the documentation build apply exactly the same rules; public
classes and functions must also have an Examples section (their doctests run
through ``--doctest-modules``).  Skipped when numpydoc is not installed.
"""

import importlib
import inspect
import re
import runpy
from pathlib import Path

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

CONF = runpy.run_path(str(Path(__file__).resolve().parents[1] / "docs" / "conf.py"))
CHECKS = numpydoc_validate.get_validation_checks(CONF["numpydoc_validation_checks"])
EXCLUDE = re.compile("|".join(CONF["numpydoc_validation_exclude"]))
OVERRIDES = {check: re.compile("|".join(patterns))
             for check, patterns in CONF["numpydoc_validation_overrides"].items()}
# Methods the API pages leave out (see docs/_templates/autosummary/class.rst).
SKIPPED_METHODS = re.compile(r"^(set_\w+_request|get_metadata_routing)$")


def _public_objects():
    """(import path, kind) of every object the API reference documents."""
    for name in CONF["_public_names"]():
        module_name, _, attr = name.rpartition(".")
        obj = getattr(importlib.import_module(module_name), attr)
        if inspect.isclass(obj):
            yield name, "class"
            for member, value in inspect.getmembers(obj):
                if member.startswith("_") or SKIPPED_METHODS.match(member):
                    continue
                if issubclass(obj, BaseException) and member in vars(BaseException):
                    continue  # Python's own exception methods
                if callable(value):
                    yield f"{name}.{member}", "method"
        else:
            yield name, "function"


OBJECTS = sorted(_public_objects())


@pytest.mark.parametrize("name, kind", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_docstring_is_valid(name, kind):
    if EXCLUDE.pattern and EXCLUDE.search(name):
        pytest.skip("excluded from validation in docs/conf.py")
    report = numpydoc_validate.validate(name)
    errors = [
        f"{code}: {message}"
        for code, message in report["errors"]
        if code in CHECKS
        and not (code in OVERRIDES and OVERRIDES[code].search(report["docstring"]))
    ]
    if kind in ("class", "function") and any(code == "EX01" for code, _ in report["errors"]):
        errors.append("EX01: public classes and functions need an Examples section")
    assert not errors, f"{name}:\n  " + "\n  ".join(errors)
