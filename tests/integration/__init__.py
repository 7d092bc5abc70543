"""Integration tests against a real django-oauth-toolkit server started on 127.0.0.1."""
