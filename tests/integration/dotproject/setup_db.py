"""Create the sqlite database for the integration server: migrations, one user, two clients.

Run by the pytest fixture in a subprocess, before the server starts::

    DOTPROJECT_DB=/tmp/.../db.sqlite3 DOTPROJECT_SEED='{...}' \
        python -m tests.integration.dotproject.setup_db

``DOTPROJECT_SEED`` is JSON: ``{"users": {name: password},
"applications": [{"client_id", "client_secret", "grant": "password"|"client-credentials"}]}``.
The plaintext secrets stay with the fixture; django-oauth-toolkit stores them hashed.
"""

# mypy: ignore-errors

from __future__ import annotations

import json
import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.integration.dotproject.settings")
    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    seed = json.loads(os.environ["DOTPROJECT_SEED"])
    call_command("migrate", verbosity=0, interactive=False)
    users = get_user_model()
    created = [
        users.objects.create_user(username=name, password=password)
        for name, password in seed["users"].items()
    ]
    owner = created[0]  # the applications' owner (DOT requires one for confidential clients)
    application = get_application_model()
    for app in seed["applications"]:
        application.objects.create(
            name=app["client_id"],
            client_id=app["client_id"],
            client_secret=app["client_secret"],  # hashed on save (hash_client_secret=True)
            client_type=app.get("client_type", application.CLIENT_CONFIDENTIAL),
            authorization_grant_type=app["grant"],
            redirect_uris=app.get("redirect_uris", ""),  # issue 8: loopback for the browser
            user=owner,
        )
    print(json.dumps({"applications": application.objects.count()}))


if __name__ == "__main__":
    main()
