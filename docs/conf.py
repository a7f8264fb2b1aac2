"""Sphinx configuration: the mapisync_ctypes documentation (MyST Markdown and reST).

    python -m sphinx -W --keep-going -b html docs build/docs       (CI: warnings are errors)
    python -m sphinx -W -b doctest docs build/doctest              (runs every example)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the source beside these pages

import mapisync_ctypes  # noqa: E402

project = "mapisync_ctypes"
author = "the mapisync_ctypes developers"
copyright = "2026, the mapisync_ctypes developers"
version = release = mapisync_ctypes.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.doctest", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "alabaster"
html_title = f"mapisync_ctypes {release}"

# the doctests share one import
doctest_global_setup = "import mapisync_ctypes as m"
