"""Import skvsc before any test module imports torch (see skvsc/__init__.py)."""

import skvsc  # noqa: F401
