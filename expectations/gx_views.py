"""Great Expectations' Data Docs views, keeping their compiled Jinja templates.

GE's views make a new Jinja environment per instance, and its site builder makes new
views on every build, so each validation's docs recompiled GE's ~50 templates: about
three quarters of the time a build took. These subclasses render exactly as GE's
(same templates, filters, renderers and output) but share one environment per view
class, so the templates are compiled once per process. The Data Docs site config of
expectations/runner.py names them (GE's `view` option of site sections and index).

This module imports great_expectations: only GE imports it, when it builds docs.
"""

from __future__ import annotations

import threading

from great_expectations.render.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

_LOCK = threading.Lock()
_ENVIRONMENTS: dict[tuple, object] = {}


class _SharedEnvironment:
    def __init__(self, custom_styles_directory=None, custom_views_directory=None) -> None:
        super().__init__(custom_styles_directory, custom_views_directory)  # type: ignore[call-arg]
        key = (type(self), custom_styles_directory, custom_views_directory)
        with _LOCK:
            # Jinja environments are safe to share between threads once configured.
            self.env = _ENVIRONMENTS.setdefault(key, self.env)


class PageView(_SharedEnvironment, DefaultJinjaPageView):
    """GE's page view (validation and suite pages)."""


class IndexPageView(_SharedEnvironment, DefaultJinjaIndexPageView):
    """GE's index page view."""
