"""`--pg docker:<major>`: the official PostgreSQL image, pinned by digest, in a throwaway container.

Images come from `docker/images.txt` (major -> tag -> digest, with the date the digest was
checked). The container gets a generated password, a random free host port bound to
127.0.0.1 only, the project's labels (so `make clean` finds leftovers) and the image's default
server settings unless `--pg-setting` adds `-c name=value`. It is stopped and removed (with its
anonymous data volume) on normal exit, on an error and on Ctrl-C/SIGTERM. With no Docker
engine reachable, asking for it fails at once with one line.

The parts that need no engine (pinning, the container spec, cleanup selection) are plain
functions so they can be tested anywhere.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contract.errors import UsageError
from experiments import DOCKER_LABEL as LABEL
from experiments import REPO_ROOT
from experiments.servers.cpu import CpuReading

IMAGES_FILE = REPO_ROOT / "docker" / "images.txt"
RUN_LABEL = f"{LABEL}.run-id"
READY_TIMEOUT_S = 120


@dataclass(frozen=True)
class PinnedImage:
    major: str
    tag: str
    digest: str
    checked: str

    @property
    def reference(self) -> str:
        """`postgres:<tag>@sha256:...`: the digest decides what is pulled; the tag is a label."""
        return f"postgres:{self.tag}@{self.digest}"


def load_images(path: Path = IMAGES_FILE) -> dict[str, PinnedImage]:
    images = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 4 or not re.fullmatch(r"sha256:[0-9a-f]{64}", fields[2]):
            raise ValueError(f"{path.name} line {number}: expected 'major tag sha256:<64 hex> date'")
        major, tag, digest, checked = fields
        if not tag.startswith(major):
            raise ValueError(f"{path.name} line {number}: tag {tag} is not PostgreSQL {major}")
        images[major] = PinnedImage(major, tag, digest, checked)
    return images


def pinned(major: str) -> PinnedImage:
    images = load_images()
    if major not in images:
        raise UsageError(f"unknown --pg docker:{major}: pinned images are {', '.join(sorted(images, key=int))} "
                         f"({IMAGES_FILE.relative_to(REPO_ROOT)})")
    return images[major]


def container_spec(image: PinnedImage, run_id: str, password: str,
                   settings: dict[str, str] | None = None) -> dict:
    """Keyword arguments for `client.containers.run()`."""
    command = ["postgres"]
    for name, value in (settings or {}).items():
        command += ["-c", f"{name}={value}"]
    return {
        "image": image.reference,
        "command": command,
        "detach": True,
        "environment": {"POSTGRES_PASSWORD": password},
        "ports": {"5432/tcp": ("127.0.0.1", None)},  # a random free port, loopback only
        "labels": {LABEL: "1", RUN_LABEL: run_id, f"{LABEL}.major": image.major},
        "name": f"upsert-bench-{re.sub(r'[^a-zA-Z0-9_.-]', '-', run_id)}-pg{image.major}",
    }


def ours(containers: Iterable) -> list:
    """The containers carrying the project's label (what `make clean` may remove)."""
    return [c for c in containers if LABEL in (getattr(c, "labels", None) or {})]


def engine(timeout: int = 10):
    """A connected Docker client, or a one-line UsageError saying why there is none."""
    try:
        from docker.errors import DockerException

        import docker
    except ImportError:  # pragma: no cover - the lock file installs it
        raise UsageError("--pg docker:* needs the docker package (installed by `make bench`)") from None
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"--pg docker:* needs a Docker engine, and none answers ({reason[:160]})") from None
    return client


def _wait_ready(container, deadline: float) -> None:
    while time.monotonic() < deadline:
        container.reload()
        if container.status in ("exited", "dead"):
            tail = container.logs(tail=3).decode(errors="replace").strip().replace("\n", " | ")
            raise UsageError(f"container {container.name} exited at start: {tail}")
        # TCP on 127.0.0.1: the image's init phase runs a socket-only server first
        code, _ = container.exec_run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres"])
        if code == 0:
            return
        time.sleep(0.5)
    raise UsageError(f"container {container.name} did not accept connections within {READY_TIMEOUT_S} s")


def cgroup_cpu_seconds(container) -> float | None:
    """CPU seconds every process of the container used so far (its cgroup's usage)."""
    try:
        usage = container.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]
    except Exception:  # the engine or the container went away: the value is unknown
        return None
    return usage / 1e9


def cgroup_reading(container) -> CpuReading | None:
    """The container's usage as a CpuReading: everything in `backends` (a cgroup cannot tell
    the server's processes apart)."""
    usage = cgroup_cpu_seconds(container)
    return None if usage is None else CpuReading(usage, None)


@contextmanager
def container(major: str, run_id: str, settings: dict[str, str] | None = None) -> Iterator[tuple[str, dict]]:
    """Start the pinned image; yield (dsn, details); always stop and remove the container."""
    image = pinned(major)
    client = engine()
    password = secrets.token_urlsafe(24)
    spec = container_spec(image, run_id, password, settings)
    started = None
    try:
        try:
            client.images.get(image.reference)
        except Exception:  # not present locally: pull by digest
            client.images.pull(image.reference)
        started = client.containers.run(**spec)
        _wait_ready(started, time.monotonic() + READY_TIMEOUT_S)
        started.reload()
        port = started.ports["5432/tcp"][0]["HostPort"]
        dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        yield dsn, {"image": image.reference, "image_checked": image.checked,
                    "container": started.name, "host_port": int(port),
                    "server_cpu": "the container's cgroup CPU usage, from the Docker engine's stats "
                                  "at the start and end of main(): every process of the server in "
                                  "server_cpu_s (background processes and the harness's own backend "
                                  "included; background_cpu_s empty)",
                    "cpu_reading": lambda excluding=(): cgroup_reading(started)}
    finally:
        if started is not None:
            try:
                started.stop(timeout=30)
            finally:
                started.remove(v=True, force=True)
