"""Every Python example in the README runs, against the embedded server.

``https://api.example.com`` is mapped to the loopback test server by rewriting the URL in the
example text: nothing here resolves or contacts another name. The default KeyringStore talks to
an in-process keyring backend seeded with alice's password, as after `silentauth login`."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest

from requests_silentauth import _profiles
from requests_silentauth.testing import TokenServer

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


class DictKeyring(keyring.backend.KeyringBackend):
    priority = 0  # never picked by keyring's discovery; installed explicitly

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.data.pop((service, username), None)


@pytest.fixture
def dict_keyring() -> Iterator[DictKeyring]:
    previous = keyring.get_keyring()
    backend = DictKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(
    index: int,
    server_factory: Callable[..., TokenServer],
    dict_keyring: DictKeyring,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = server_factory(clients={})  # public clients, like the examples
    token_url = server.token_url
    dict_keyring.set_password(f"requests-silentauth {token_url}", "alice", "wonderland-pass-123")
    monkeypatch.setenv("SILENTAUTH_CONFIG", str(tmp_path / "profiles.toml"))
    _profiles.save("work", {"url": token_url, "username": "alice", "store": "keyring"})
    code = BLOCKS[index].replace("https://api.example.com", server.url)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(code, f"README.md[{index}]", "exec"), namespace)
    if "print(" in code:
        assert "'user': 'alice'" in capsys.readouterr().out
    if "errors.explain" in code:  # the API-errors example reached the error it describes
        assert namespace["line"] == "No such journal (3000, HTTP 404)"
    if "from_profile" in code:
        auth = namespace["auth"]
        import requests

        with requests.Session() as s:
            s.auth = auth  # type: ignore[assignment]
            assert s.get(server.resource_url).json()["user"] == "alice"
