"""WSGI entry point: ``python -m waitress tests.integration.dotproject.wsgi:application``."""

# mypy: ignore-errors

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.dotproject.settings")

application = get_wsgi_application()
