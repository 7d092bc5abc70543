"""One client process of the cross-process test: ``SilentAuth`` with a shared ``FileStore``.

Run as ``python -m tests.integration.race_client`` with the settings in the environment
(``RACE_*``); waits until ``RACE_GO`` (epoch seconds) so that all processes send at once, makes
one request and prints ``{"status": ..., "history": [...]}`` as JSON.
"""

from __future__ import annotations

import json
import os
import time

import requests

from requests_silentauth import FileStore, PasswordGrant, SilentAuth


def main() -> None:
    env = os.environ
    grant = PasswordGrant(
        env["RACE_TOKEN_URL"],
        client_id=env["RACE_CLIENT_ID"],
        client_secret=env["RACE_CLIENT_SECRET"],
    )
    auth = SilentAuth(
        grant,
        username=env["RACE_USERNAME"],
        password=env["RACE_PASSWORD"],
        store=FileStore(env["RACE_STORE"]),
        origins=[env["RACE_BASE"]],
        prompt=False,
    )
    with requests.Session() as session:
        session.trust_env = False
        time.sleep(max(0.0, float(env["RACE_GO"]) - time.time()))
        r = session.get(env["RACE_BASE"] + "/api/me", auth=auth, timeout=15)
        print(json.dumps({"status": r.status_code, "history": [h.status_code for h in r.history]}))
    auth.close()


if __name__ == "__main__":
    main()
