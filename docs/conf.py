"""Sphinx configuration of the skvsc documentation.

Build (from the repository root)::

    pip install ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

The build executes every example in ``examples/`` (sphinx-gallery), renders the
API reference from the docstrings (autosummary + numpydoc) and validates those
docstrings (``numpydoc_validation_checks`` below, plus a check that public
classes and functions have an Examples section).  ``-W`` turns every warning,
a failed example or an invalid docstring into a failed build.  Nothing is
fetched from the network.
"""

import os
import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the checkout, in case skvsc is not installed
sys.path.insert(0, str(HERE))  # _gallery_order

import skvsc  # noqa: E402
import skvsc.datasets  # noqa: E402
import skvsc.metrics  # noqa: E402
import skvsc.plotting  # noqa: E402

# -- Project -----------------------------------------------------------------
project = "skvsc"
author = "the skvsc developers"
copyright = "2026, the skvsc developers"
version = release = skvsc.__version__

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "**.codeobj.json"]
default_role = "literal"
nitpicky = False
# No network at build time: intersphinx is not used, so references to numpy,
# torch and scikit-learn objects are rendered as plain text.  (MathJax is
# loaded by the reader's browser from its CDN, as Sphinx does by default.)

autosummary_generate = True
autodoc_typehints = "none"
toc_object_entries_show_parents = "hide"  # "fit()", not "SparseCoder.fit()"

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True
# Validation: every numpydoc check, except those that are matters of taste.
# Parameters (PR01-PR10), Returns (RT01-RT05), summaries (SS01-SS06) and
# section layout (GL*) are required for every documented object; an Examples
# section is required of every public class and function by the
# ``_require_examples`` hook below (methods are exempt).
numpydoc_validation_checks = {
    "all",
    "ES01",  # an extended summary is welcome, not required
    "SA01",  # See Also is welcome, not required
    "EX01",  # enforced for classes and functions only, see _require_examples
    "SS05",  # "Returns ..." vs "Return ...": taste
    "GL01",  # summary on the first or the second line: both fine
    "RT02",  # "self : SparseCoder" (name and type) is clearer than a bare type
}
# Parameter descriptions here start with the paper's symbol ("λ, the L1
# weight ..."), which PR08 reads as a lower-case start.
numpydoc_validation_overrides = {"PR08": [r"(?m)^ {4,8}[λβγαμσ]"]}
# Methods inherited from scikit-learn and not documented by us.
numpydoc_validation_exclude = {
    r"\.set_\w+_request$",
    r"\.get_metadata_routing$",
    r"\.__init__$",
}

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",  # execute every plot_*.py
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "_gallery_order.GalleryOrder",  # docs/_gallery_order.py
    "doc_module": ("skvsc",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"skvsc": None},  # local links only, no network
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "capture_repr": (),  # print() what should be shown, not the last expression
    "abort_on_example_error": False,  # run all, then fail with the full list
    "only_warn_on_example_error": False,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skvsc {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_prev_next": True,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "check_switcher": False,
}
html_sidebars = {"index": [], "installation": [], "quickstart": [], "benchmarks": []}
html_show_sourcelink = False


# -- Checks ------------------------------------------------------------------
def _public_names():
    """Every name the API reference must document, as ``module.name``."""
    names = [f"skvsc.{name}" for name in skvsc.__all__]
    for module in (skvsc.metrics, skvsc.datasets, skvsc.plotting, skvsc.exceptions):
        names += [f"{module.__name__}.{name}" for name in module.__all__]
    return names


def _check_api_reference(app):
    """Fail the build when the API page misses something skvsc exports."""
    text = (HERE / "api.rst").read_text(encoding="utf-8")
    listed = set()
    current = None
    for line in text.splitlines():
        match = re.match(r"\.\. currentmodule:: (\S+)", line.strip())
        if match:
            current = match.group(1)
        elif current and re.fullmatch(r"\s{3,}[A-Za-z_][\w.]*", line):
            listed.add(f"{current}.{line.strip()}")
    missing = sorted(set(_public_names()) - listed)
    if missing:
        from sphinx.errors import ConfigError

        raise ConfigError(f"docs/api.rst does not list these public names: {missing}")


def _require_examples(app, what, name, obj, options, lines):
    """Warn (an error under -W) when a public class or function has no Examples."""
    if what not in ("class", "function") or not name.startswith("skvsc."):
        return
    if name.split(".")[-1].startswith("_"):
        return
    if not any(line.strip() in ("Examples", ".. rubric:: Examples") for line in lines):
        from sphinx.util import logging

        logging.getLogger("skvsc.docs").warning(
            "%s: the docstring has no Examples section (numpydoc EX01)", name,
            type="skvsc", subtype="examples")


def _unlink_foreign_refs(app, what, name, obj, options, lines):
    """Render scikit-learn's :ref: links in inherited docstrings as plain text.

    Their targets live in scikit-learn's own documentation, which we do not
    link to (no intersphinx: the build stays offline).
    """
    module = getattr(obj, "__module__", "") or ""
    if module.startswith("skvsc"):
        return
    pattern = re.compile(r":ref:`([^`<]*?)\s*(?:<[^`>]*>)?`")
    for i, line in enumerate(lines):
        lines[i] = pattern.sub(
            lambda m: f"*{m.group(1).strip()}*" if "<" in m.group(0)
            else "the scikit-learn example", line)


def setup(app):
    app.connect("autodoc-process-docstring", _unlink_foreign_refs, priority=100)
    app.connect("builder-inited", _check_api_reference)
    # After numpydoc (priority 500) has turned sections into rubrics.
    app.connect("autodoc-process-docstring", _require_examples, priority=900)
