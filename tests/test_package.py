"""Issue 9: the package as an index would show it. Builds the sdist and, from it, the wheel
(``python -m build --no-isolation``: offline, with the build tools of the dev group) and checks
what each carries: the license, the metadata, the README's test command's files."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import requests_silentauth

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    pytest.importorskip("build", reason="the dev group's build tools are not installed")
    pytest.importorskip("hatchling", reason="the dev group's build tools are not installed")
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


def tracked(*folders: str) -> set[str]:
    """The files git tracks under ``folders`` (what a clone has)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an unpacked sdist): nothing to compare with")
    out = subprocess.run(
        ["git", "ls-files", "--", *folders], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line for line in out.splitlines() if line}


def test_the_wheel_has_the_code_the_license_and_the_metadata(built: tuple[Path, Path]) -> None:
    _, wheel = built
    version = requests_silentauth.__version__
    assert wheel.name == f"requests_silentauth-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"requests_silentauth-{version}.dist-info"
        meta = email.message_from_bytes(zf.read(f"{info}/METADATA"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
    assert {"requests_silentauth/py.typed", "requests_silentauth/__init__.py"} <= names
    assert f"{info}/licenses/LICENSE" in names
    assert not any(n.startswith("tests/") for n in names)
    assert meta["License-Expression"] == "MIT"
    assert meta["Name"] == "requests-silentauth" and meta["Version"] == version
    classifiers = meta.get_all("Classifier") or []
    for wanted in ("Typing :: Typed", "Development Status :: 3 - Alpha",
                   "Programming Language :: Python :: 3.10"):  # fmt: skip
        assert wanted in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Homepage", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(u.startswith("https://") for u in urls.values())
    # ruff and mypy are the dev group's, not the user-facing test extra's
    requires = meta.get_all("Requires-Dist") or []
    assert not any(r.startswith(("ruff", "mypy", "mutmut")) for r in requires)
    assert "silentauth = requests_silentauth._cli:main" in entry_points
    # The README reads on an index: the long description, every link absolute.
    body = meta.get_payload()
    assert isinstance(body, str) and body.lstrip().startswith("# requests-silentauth")
    relative = re.findall(r"\]\((?!https://)([^)]*)\)", body)
    assert not relative, f"links that break on an index: {relative}"
    install = body.index("pip install requests-silentauth")
    assert install < body.index("git clone") and install < body.index("scripts/test.sh")


def test_the_sdist_carries_what_the_readme_test_command_needs(built: tuple[Path, Path]) -> None:
    sdist, _ = built
    prefix = sdist.name.removesuffix(".tar.gz") + "/"
    with tarfile.open(sdist) as tf:
        names = {n.removeprefix(prefix) for n in tf.getnames()}
    assert {"LICENSE", "README.md", "CHANGELOG.md", "pyproject.toml", "PKG-INFO"} <= names
    assert {"scripts/test.sh", "scripts/secret-service.sh"} <= names
    needed = tracked("requests_silentauth", "tests", "scripts", "docs", "benchmarks")
    missing = needed - names
    assert not missing, f"the sdist lacks {sorted(missing)}"
