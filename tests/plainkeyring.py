"""A keyring backend for CLI tests in subprocesses: keeps its entries unencrypted in the JSON
file named by ``PLAINKEYRING_FILE``, like keyrings.alt's PlaintextKeyring (whose name it
shares, so ``silentauth login`` warns about it). Chosen with
``PYTHON_KEYRING_BACKEND=tests.plainkeyring.PlaintextKeyring``; never picked on its own."""

from __future__ import annotations

import json
import os
from pathlib import Path

import keyring.backend


class PlaintextKeyring(keyring.backend.KeyringBackend):
    priority = 0

    @property
    def file_path(self) -> str:
        return os.environ["PLAINKEYRING_FILE"]

    def _load(self) -> dict[str, str]:
        try:
            data: dict[str, str] = json.loads(Path(self.file_path).read_text())
        except FileNotFoundError:
            return {}
        return data

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        Path(self.file_path).write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}\0{username}", None)
        Path(self.file_path).write_text(json.dumps(data))
