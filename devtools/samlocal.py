"""The real ``sam local`` on this machine, without a registry: a Docker engine (installed and
started from the system's packages when none answers), a Lambda Python 3.13 stand-in image
built offline, ``sam build``, and ``sam local start-api`` / ``sam local invoke`` with the
options that make them work on Linux. ``make sam-local`` runs it for a person; ``make test-sam``
runs the HTTP contract through it. Everything it starts it stops, by PID or container id.

Why each option (measured on SAM CLI 1.170, see FIELD-NOTES):

* ``--invoke-image`` + ``--skip-pull-image``: AWS's public image cannot be pulled here. The
  stand-in is a Debian trixie root file system (Python 3.13, ``libstdc++6`` for the runtime
  client's extension) made by ``mmdebstrap``, with ``awslambdaric`` and ``boto3`` (which the
  real runtime ships) from PyPI in ``/var/runtime`` and a ``/var/runtime/bootstrap`` that
  orders ``sys.path`` as Lambda does (``/var/task``, ``/opt/python/lib/python3.13/site-packages``, ``/opt/python``,
  ``/var/runtime``). SAM adds its own Runtime Interface Emulator at ``/var/rapid``.
* The host's architecture: the template says arm64 (what is deployed); the build here is
  made from a copy of the template that says the host's, so the dependency layer holds that
  architecture's wheels (``google-re2`` is compiled code; arm64 under QEMU would also take
  most of the 10 s timeout per cold start).
* ``--add-host host.docker.internal:host-gateway``: ``host.docker.internal`` (what
  ``env.json`` names, as on Docker Desktop) does not resolve on a Linux engine otherwise;
  ``--docker-network host`` is ignored by SAM 1.170 for ZIP functions.
* A Redis that containers can reach: bound to the Docker bridge's gateway address, with
  protected mode off (it refuses non-loopback clients otherwise). Loopback and the bridge
  only: nothing else on the network can reach it.
* No AWS credentials in SAM's own environment: with them, and no network, SAM spends ~6 s per
  command failing to ask STS for the account id.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from localapi.services import RedisServer, wait_for

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / ".dev"


def locked(name: str) -> str:
    """``name==version`` as the development lock pins it (requirements-dev.txt)."""
    found = re.search(rf"^({re.escape(name)}==[^\s\\;]+)", (ROOT / "requirements-dev.txt").read_text(), re.M)
    if found is None:
        raise SystemExit(f"{name} is not in requirements-dev.txt: run make lock")
    return found[1]


# Lambda's Python runtimes ship boto3 (the dependency layer leaves it out for that reason):
# the stand-in ships the versions the project locks for development.
AWSLAMBDARIC = locked("awslambdaric")
BOTO3 = locked("boto3")
SUITE = "trixie"  # the Debian release with Python 3.13
# What Lambda's python3.13 runtime does before the handler: the path order, then the client.
BOOTSTRAP = """#!/bin/sh
export PYTHONPATH="/var/task:/opt/python/lib/python3.13/site-packages:/opt/python:/var/runtime"
exec /usr/bin/python3 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
"""
LOCAL_OVERRIDES = "DeployMode=existing-cache RedisAuth=none RedisTls=false"


def log(message: str) -> None:
    print(f"sam-local: {message}", file=sys.stderr, flush=True)


def host_arch() -> str:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def _docker_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False, timeout=30).returncode == 0


def _apt_install(*packages: str) -> None:
    log(f"installing {' '.join(packages)} from the system's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", *packages], check=True, env=env, stdout=subprocess.DEVNULL
    )


@contextlib.contextmanager
def docker_engine() -> Iterator[None]:
    """A Docker engine that answers: the running one, or one started here (and stopped after)."""
    if shutil.which("docker") and _docker_answers():
        yield
        return
    if not shutil.which("dockerd"):
        _apt_install("docker.io")
    DEV.mkdir(exist_ok=True)
    log("starting dockerd (no engine answered)")
    with (DEV / "dockerd.log").open("ab") as out:
        daemon = subprocess.Popen(["dockerd"], stdout=out, stderr=out, start_new_session=True)
    try:
        wait_for(_docker_answers, timeout=60, what="dockerd to answer")
        yield
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()


def image_tag(arch: str) -> str:
    recipe = f"{SUITE}\n{AWSLAMBDARIC}\n{BOTO3}\n{BOOTSTRAP}\n{arch}".encode()
    return f"hitcounter/lambda-python3.13:{arch}-{hashlib.sha256(recipe).hexdigest()[:12]}"


def ensure_image(arch: str) -> str:
    """The stand-in image for ``arch``, built once and then reused (its tag is its recipe)."""
    tag = image_tag(arch)
    if subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0:
        return tag
    if not shutil.which("mmdebstrap"):
        _apt_install("mmdebstrap")
    started = time.monotonic()
    log(f"building {tag} offline (Debian {SUITE} + Python 3.13 + {AWSLAMBDARIC} + {BOTO3}); about half a minute")
    deb_arch = "arm64" if arch == "arm64" else "amd64"
    wheel_platform = "aarch64" if arch == "arm64" else "x86_64"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
             "--python-version", "3.13", "--platform", f"manylinux2014_{wheel_platform}",
             "--platform", f"manylinux_2_28_{wheel_platform}", "--target", str(work / "runtime"), AWSLAMBDARIC, BOTO3],
            check=True,
        )  # fmt: skip
        (work / "runtime" / "bootstrap").write_text(BOOTSTRAP)
        (work / "runtime" / "bootstrap").chmod(0o755)
        mirror = os.environ.get("DEBIAN_MIRROR") or apt_mirror()
        subprocess.run(
            ["mmdebstrap", "--quiet", "--variant=minbase", f"--architectures={deb_arch}",
             "--include=python3,libstdc++6,ca-certificates", "--format=tar",
             '--customize-hook=mkdir -p "$1/var/runtime" "$1/var/task" "$1/opt"',
             f"--customize-hook=copy-in {work / 'runtime'}/. /var/runtime",
             SUITE, str(work / "rootfs.tar"), mirror],
            check=True,
        )  # fmt: skip
        subprocess.run(["docker", "import", str(work / "rootfs.tar"), tag], check=True, stdout=subprocess.DEVNULL)
    log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def apt_mirror(etc: Path = Path("/etc/apt")) -> str:
    """The Debian archive this machine's own apt uses (deb822 ``*.sources`` first, then
    one-line ``sources.list`` files): the one place that knows which mirror is reachable
    here. Its main archive, not the security or updates suites."""
    entries: list[tuple[str, list[str]]] = []
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith(("#", " "))
            )
            if "deb" in fields.get("Types", "").split():
                for uri in fields.get("URIs", "").split():
                    entries.append((uri, fields.get("Suites", "").split()))
    for path in [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                words = re.sub(r"\[[^]]*\]", "", line).split()
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    for uri, suites in entries:
        main_suite = any(s and not s.endswith(("-security", "-updates", "-backports")) for s in suites)
        if main_suite and uri.rstrip("/").endswith("/debian"):
            return uri
    raise SystemExit("no Debian archive in this machine's apt sources: set DEBIAN_MIRROR to one")


def sam_env() -> dict[str, str]:
    """SAM's own environment: the venv first on PATH (sam build needs python3.13 there), no
    AWS credentials (see the module's notes), no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def build(build_dir: Path, arch: str, cache_dir: Path = DEV / "sam-cache") -> Path:
    """``sam build`` as the project does it, for ``arch``: from a copy of the template that
    names that architecture, beside the real one (its CodeUri paths and samconfig.toml are
    read from the template's folder), so the dependency layer gets that architecture's wheels
    (``google-re2`` and ``hiredis`` are compiled code): packaging/Makefile reads
    ``LAMBDA_ARCHITECTURE``, and the copy's architecture keeps SAM's build cache for it apart
    from the deployed one's. The copy is removed afterwards."""
    text = (
        (ROOT / "template.yaml")
        .read_text()
        .replace("- arm64", f"- {arch}")
        .replace("[arm64]", f"[{arch}]")
        .replace("BuildArchitecture: arm64", f"BuildArchitecture: {arch}")
    )
    copy = ROOT / f".template.{arch}.{os.getpid()}.yaml"
    copy.write_text(text)
    try:
        subprocess.run(
            ["sam", "build", "-t", str(copy), "--build-dir", str(build_dir), "--cache-dir", str(cache_dir)],
            cwd=ROOT,
            env={**sam_env(), "LAMBDA_ARCHITECTURE": arch},
            check=True,
            stdout=subprocess.DEVNULL,
        )
    finally:
        copy.unlink(missing_ok=True)
    return build_dir / "template.yaml"


def bridge_gateway() -> str:
    """The host's address on Docker's default bridge: what ``host-gateway`` resolves to."""
    import ipaddress

    out = subprocess.run(["docker", "network", "inspect", "bridge"], capture_output=True, text=True, check=True)
    config = json.loads(out.stdout)[0]["IPAM"]["Config"][0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))  # docker 20.10 leaves it out


def redis_for_containers(data_dir: Path | None = None) -> RedisServer:
    """A Redis on loopback and on the Docker bridge's gateway, for the containers."""
    return RedisServer("--bind", "127.0.0.1", bridge_gateway(), "--protected-mode", "no", data_dir=data_dir)


def env_file(path: Path, redis_port: int, **extra: str) -> Path:
    """env.json as `sam local --env-vars` takes it: the project's, with this Redis."""
    data = json.loads((ROOT / "env.json").read_text())
    data["Parameters"]["REDIS_URL"] = f"redis://host.docker.internal:{redis_port}/0"
    data["Parameters"].update(extra)
    path.write_text(json.dumps(data, indent=2))
    return path


def common_args(template: Path, image: str, env_json: Path) -> list[str]:
    return [
        "-t", str(template), "--env-vars", str(env_json), "--parameter-overrides", LOCAL_OVERRIDES,
        "--invoke-image", image, "--skip-pull-image", "--add-host", "host.docker.internal:host-gateway",
    ]  # fmt: skip


def start_api(
    template: Path, image: str, env_json: Path, port: int, warm: str | None = "EAGER"
) -> subprocess.Popen[bytes]:
    args = ["sam", "local", "start-api", *common_args(template, image, env_json), "--port", str(port)]
    if warm:
        args += ["--warm-containers", warm]
    DEV.mkdir(exist_ok=True)
    out = (DEV / "sam-local-start-api.log").open("ab")
    return subprocess.Popen(args, cwd=ROOT, env=sam_env(), stdout=out, stderr=out, start_new_session=True)


def invoke(template: Path, image: str, env_json: Path, function: str, event: Path) -> dict[str, object]:
    done = subprocess.run(
        ["sam", "local", "invoke", function, *common_args(template, image, env_json), "-e", str(event)],
        cwd=ROOT,
        env=sam_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def stop(proc: subprocess.Popen[bytes], image: str) -> None:
    """Stop SAM, then every container it left running from ``image`` (warm containers can
    outlive a SIGTERM)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    remove_containers(image)


def remove_containers(image: str) -> None:
    # SAM builds its own image on top of ours ("<image>-rapid-…"); match both by ancestry.
    ids = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True, check=False
    ).stdout.split()
    if ids:
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.samlocal", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--arch", choices=["x86_64", "arm64"], default=host_arch())
    args = parser.parse_args(argv)
    with docker_engine():
        image = ensure_image(args.arch)
        template = build(ROOT / ".aws-sam" / "sam-local", args.arch)
        redis = redis_for_containers(DEV / "sam-redis").start()
        env_json = env_file(DEV / "sam-env.json", redis.port)
        log(f"Redis for the containers on {bridge_gateway()}:{redis.port}; env: {env_json}")
        api = start_api(template, image, env_json, args.port)
        log(
            f"sam local start-api on http://127.0.0.1:{args.port} (log: .dev/sam-local-start-api.log); Ctrl-C stops all"
        )
        try:
            api.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stop(api, image)
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
