"""What plain `sam build` makes (packaging/Makefile): every module of every function and layer
with its bytecode, compiled by Python 3.13, hash-based and unchecked, naming the file where
Lambda mounts it; the dependency layer's compiled wheels for the deployed architecture; and a
function that imports from a read-only build without compiling a line."""

from __future__ import annotations

import importlib.util
import json
import marshal
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import samlocal
from localapi import template as sam_template
from tests.support.events import ROOT

BIN = ROOT / ".venv" / "bin"
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SAM_CLI_TELEMETRY": "0"}
ELF_MACHINE = {"arm64": 183, "x86_64": 62}  # e_machine: EM_AARCH64, EM_X86_64
FUNCTIONS = [
    "HitsFunction",
    "SessionFunction",
    "ImportsFunction",
    "ImportWorkerFunction",
    "DocsFunction",
    "PreTrafficHookFunction",
]
UNCHECKED_HASH = 0b01  # PEP 552: hash-based, source not checked


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def deployed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` as a user runs it: the template as it is (arm64), SAM's cache out of it."""
    tmp = tmp_path_factory.mktemp("sam-build")
    env = {k: v for k, v in ENV.items() if k != "LAMBDA_ARCHITECTURE"}
    result = _run(
        [str(BIN / "sam"), "build", "--build-dir", str(tmp / "build"), "--cache-dir", str(tmp / "cache")], ROOT, env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp / "build"


def _mount_point(resource: str) -> str:
    return "/var/task" if resource.endswith("Function") else "/opt"


def test_every_module_of_every_artifact_ships_its_bytecode(deployed_build: Path) -> None:
    sources = 0
    for resource in [*FUNCTIONS, "SharedLayer", "DependenciesLayer"]:
        root = deployed_build / resource
        for source in root.rglob("*.py"):
            sources += 1
            compiled = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
            assert compiled.is_file(), f"{source.relative_to(deployed_build)} has no bytecode"
            data = compiled.read_bytes()
            # Python 3.13's magic (the runtime's), then PEP 552's flags and the source's hash.
            assert data[:4] == importlib.util.MAGIC_NUMBER, compiled
            assert struct.unpack("<I", data[4:8])[0] == UNCHECKED_HASH, compiled
            assert data[8:16] == importlib.util.source_hash(source.read_bytes()), compiled
            code = marshal.loads(data[16:])
            assert code.co_filename == f"{_mount_point(resource)}/{source.relative_to(root)}"
        # No bytecode of a developer's run leaks in (a stale .pyc would shadow nothing, but it
        # is not what was built).
        for compiled in root.rglob("*.pyc"):
            assert compiled.parent.name == "__pycache__"
            assert (compiled.parent.parent / f"{compiled.name.split('.')[0]}.py").is_file(), compiled
    assert sources > 500  # redis-py and Powertools alone are hundreds of modules


def test_the_dependency_layer_holds_the_locked_packages_for_arm64(deployed_build: Path) -> None:
    deps = deployed_build / "DependenciesLayer" / "python"
    locked = {
        line.split("==")[0].lower().replace("-", "_")
        for line in (ROOT / "layers/deps/requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith(" ")
    }
    installed = {p.name.split("-")[0].lower() for p in deps.glob("*.dist-info")}
    assert installed == locked
    # Nothing the runtime already has (boto3/botocore ship with python3.13 on Lambda), no scripts.
    assert not (deps / "boto3").exists() and not (deps / "botocore").exists() and not (deps / "bin").exists()
    extensions = list(deps.rglob("*.so"))
    assert {p.parent.name for p in extensions} >= {"hiredis", "re2"}
    for extension in extensions:
        assert "aarch64" in extension.name, extension
        head = extension.read_bytes()[:20]
        assert head[:4] == b"\x7fELF" and struct.unpack("<H", head[18:20])[0] == ELF_MACHINE["arm64"], extension


def test_a_wrong_interpreter_or_architecture_fails_the_build_with_its_reason(tmp_path: Path) -> None:
    def make(*args: str) -> subprocess.CompletedProcess[str]:
        command = ["make", "--no-print-directory", "-f", str(ROOT / "packaging/Makefile"), *args]
        return _run(command, ROOT / "layers/deps", {**ENV, "ARTIFACTS_DIR": str(tmp_path)})

    wrong_python = make("build-DependenciesLayer", "PYTHON=python3-not-there")
    assert wrong_python.returncode != 0 and "is not Python 3.13" in wrong_python.stderr
    wrong_arch = make("build-DependenciesLayer", "LAMBDA_ARCHITECTURE=sparc")
    assert wrong_arch.returncode != 0 and "must be arm64 or x86_64" in wrong_arch.stderr
    assert not any(tmp_path.iterdir())  # nothing half-built


def test_a_function_imports_from_a_read_only_build_without_compiling(tmp_path: Path) -> None:
    """What a cold start does on Lambda: code and layers read-only, nothing written, so any
    module without usable bytecode is compiled from source every time. Built for this machine
    (its compiled wheels must load here), as the `sam local` tier and the bench build."""
    build = tmp_path / "build"
    samlocal.build(build, samlocal.host_arch(), cache_dir=tmp_path / "cache")
    before = sorted(str(p) for p in build.rglob("*"))
    functions = sam_template.load(ROOT / "template.yaml").functions
    probe = (
        "import importlib, json, sys\n"
        "compiled = []\n"
        "sys.addaudithook(lambda e, a: compiled.append(str(a[1])) if e == 'compile' and len(a) > 1 else None)\n"
        "importlib.import_module('app')\n"
        f"print(json.dumps([f for f in compiled if f.startswith({str(build)!r})]))\n"
    )
    for name in ("HitsFunction", "SessionFunction", "ImportsFunction", "DocsFunction"):
        env = {
            "PATH": os.environ["PATH"],
            **functions[name].environment,
            "REDIS_URL": "redis://127.0.0.1:9/0",  # never connected to on import
            "AWS_REGION": "us-east-1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONPATH": os.pathsep.join(
                str(p) for p in (build / name, build / "DependenciesLayer/python", build / "SharedLayer/python")
            ),
        }
        result = _run([sys.executable, "-c", probe], build / name, env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout.splitlines()[-1]) == [], f"{name} compiled from source"
    assert sorted(str(p) for p in build.rglob("*")) == before  # and wrote nothing
    shutil.rmtree(build)
