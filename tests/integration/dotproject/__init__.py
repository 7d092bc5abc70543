"""A minimal Django project that serves django-oauth-toolkit for the integration tests.

Everything is configured from the environment by the pytest fixture (``conftest.py``): the
sqlite path (``DOTPROJECT_DB``). Nothing here is meant for production.
"""
