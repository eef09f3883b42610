"""The wheel: built without setuptools deprecation warnings, LICENSE inside, and the shipped
configs reachable once installed (`scenelab config list|show`), away from any checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scenelab.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "src" / "scenelab" / "configs"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path, str]:
    """(the wheel, the folder it is installed into, the build log)."""
    pytest.importorskip("setuptools", minversion="77")  # built here, without the network
    out = tmp_path_factory.mktemp("wheel")
    source = out / "source"  # a copy: an in-tree build would leave build/ in the checkout
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v"]
    build = subprocess.run(
        [*command, "-w", str(out / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = (out / "dist").glob("scenelab-*.whl")
    site = str(out / "site")
    pip_install = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q"]
    install = subprocess.run(
        [*pip_install, "-t", site, str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    return wheel, out / "site", build.stdout + build.stderr


def test_the_wheel_holds_the_license_and_the_configs(installed):
    wheel, _, log = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    shipped = sorted(path.name for path in CONFIGS.glob("*.yaml"))
    assert sorted(n.split("/")[-1] for n in names if n.startswith("scenelab/configs/")) == shipped
    assert "scenelab/py.typed" in names
    assert "Deprecat" not in log, [line for line in log.splitlines() if "Deprecat" in line]


def test_the_installed_package_lists_and_shows_its_configs(installed, tmp_path):
    _, site, _ = installed
    env = {**os.environ, "PYTHONPATH": str(site)}

    def scenelab(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "scenelab", *arguments],
            capture_output=True,
            text=True,
            cwd=tmp_path,  # no configs/ folder here
            env=env,
            timeout=300,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import scenelab; print(scenelab.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert where.stdout.startswith(str(site)), where.stdout  # the installed copy, not this one
    listed = scenelab("config", "list")
    assert listed.stdout.split() == sorted(path.stem for path in CONFIGS.glob("*.yaml"))
    shown = scenelab("config", "show", "simplenet")
    assert shown.returncode == 0 and shown.stdout == (CONFIGS / "simplenet.yaml").read_text()


def test_an_unknown_config_is_one_line_naming_the_choices(capsys):
    assert main(["config", "show", "simplenet.yml"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "'simplenet.yml': no such shipped config" in error
    assert "resnet18-scratch" in error
    assert main(["config", "show", "\x1b[2J../simplenet"]) == 2  # no escape reaches the terminal
    error = capsys.readouterr().err
    assert "\x1b" not in error and "'\\x1b[2J../simplenet': no such shipped config" in error


def test_the_checkout_keeps_its_configs_folder():
    """`configs/NAME.yaml` in the README and the configs' own comments still works."""
    assert sorted((ROOT / "configs").glob("*.yaml")) != []
    for path in (ROOT / "configs").glob("*.yaml"):
        assert path.read_bytes() == (CONFIGS / path.name).read_bytes()
