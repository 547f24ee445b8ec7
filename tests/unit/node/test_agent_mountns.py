"""Containers in mount namespaces of their own, for real: the launcher unshares, mounts tmpfs
and binds, and the child process reports what it sees; the host's files and mount table are
compared before and after. Needs root (CAP_SYS_ADMIN), hence ``tools``."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from refstack.node.mountns import Mount, Sandbox, VolumeFile, spawn_with_volumes

pytestmark = [
    pytest.mark.tools,
    pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here"),
]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# what the child reports: files it reads, their modes, whether it can write, its mounts
PROBE = r"""
import json, os, sys
out = {"pid": os.getpid(), "cwd": os.getcwd(), "files": {}, "modes": {}, "writable": {}}
for path in sys.argv[1:]:
    if os.path.isfile(path):
        out["files"][path] = open(path).read()
        out["modes"][path] = oct(os.stat(path).st_mode & 0o777)
    elif os.path.isdir(path):
        out["files"][path] = sorted(os.listdir(path))
        probe = os.path.join(path, ".probe")
        try:
            open(probe, "w").write("written by the container")
            out["writable"][path] = True
        except OSError as exc:
            out["writable"][path] = exc.errno
    else:
        out["files"][path] = None
out["mounts"] = sorted(line.split()[4] for line in open("/proc/self/mountinfo"))
print(json.dumps(out))
"""


def _mounts_here(tmp_path: Path) -> list[str]:
    """The host's mounts on ``/`` or where these tests mount (other tests may mount elsewhere
    meanwhile, e.g. the loop filesystems of the disk-fill tests)."""
    watched = ("/etc", "/run", "/var", "/reports", "/srv", str(tmp_path))
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if (p := line.split()[4]) == "/" or p.startswith(watched)]


def _host_state(tmp_path: Path) -> dict[str, Any]:
    """What must not change: the listings and times of the directories volumes go under."""
    state: dict[str, Any] = {"mounts": _mounts_here(tmp_path)}
    for directory in ("/", "/etc", "/var"):
        info = os.stat(directory)
        state[directory] = (sorted(os.listdir(directory)), info.st_mtime_ns, info.st_ctime_ns)
    state["/run/secrets"] = os.path.lexists("/run/secrets")
    return state


@pytest.fixture()
def host_unchanged(tmp_path: Path) -> Iterator[None]:
    before = _host_state(tmp_path)
    yield
    assert _host_state(tmp_path) == before


def _run(
    tmp_path: Path, mounts: tuple[Mount, ...], paths: list[str], name: str = "c"
) -> dict[str, Any]:
    root = tmp_path / f"{name}.root"
    root.mkdir()
    log = tmp_path / f"{name}.log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        process = spawn_with_volumes(
            [sys.executable, "-I", "-S", "-c", PROBE, *paths],
            {"PATH": "/usr/bin:/bin"},
            str(tmp_path),
            fd,
            Sandbox(str(root), mounts),
        )
    finally:
        os.close(fd)
    assert process.wait(timeout=20) == 0, log.read_text()
    report: dict[str, Any] = json.loads(log.read_text().splitlines()[-1])
    assert report["pid"] == process.pid  # the launcher exec'd the command: same process
    assert os.listdir(root) == []  # the new root lived in the namespace only
    return report


def test_the_runners_volumes_are_at_their_paths_and_the_hosts_files_are_untouched(
    tmp_path: Path, host_unchanged: None
) -> None:
    reports = tmp_path / "volumes" / "reports"
    reports.mkdir(parents=True)
    mounts = (
        Mount(
            "target",
            "/etc/chaosgate",
            True,
            files=(VolumeFile("target.yaml", b"name: cluster\n", 0o644),),
        ),
        Mount("reports", "/reports", False, source=str(reports)),
        Mount(
            "kube-api-access",
            SA_DIR,
            True,
            files=(
                VolumeFile("token", b"eyJ.token", 0o644),
                VolumeFile("ca.crt", b"CA PEM", 0o644),
                VolumeFile("namespace", b"chaosgate", 0o644),
            ),
        ),
        Mount(
            "sink-token",
            "/etc/notification-sink",
            True,
            files=(VolumeFile("token", b"s3cret", 0o400),),
        ),
    )
    seen = _run(
        tmp_path,
        mounts,
        [
            "/etc/chaosgate/target.yaml",
            "/etc/chaosgate",
            "/reports",
            f"{SA_DIR}/token",
            f"{SA_DIR}/ca.crt",
            f"{SA_DIR}/namespace",
            "/etc/notification-sink/token",
            "/etc/hostname",
        ],
    )
    files = seen["files"]
    assert files["/etc/chaosgate/target.yaml"] == "name: cluster\n"
    assert files[f"{SA_DIR}/token"] == "eyJ.token"
    assert files[f"{SA_DIR}/ca.crt"] == "CA PEM"
    assert files[f"{SA_DIR}/namespace"] == "chaosgate"
    assert files["/etc/notification-sink/token"] == "s3cret"
    assert seen["modes"]["/etc/notification-sink/token"] == "0o400"
    # the host's own /etc is still there around the new directories
    assert files["/etc/hostname"] == Path("/etc/hostname").read_text()
    assert seen["writable"] == {"/etc/chaosgate": errno.EROFS, "/reports": True}
    assert seen["cwd"] == str(tmp_path)
    for path in ("/etc/chaosgate", "/reports", "/run/secrets/kubernetes.io/serviceaccount"):
        assert path in seen["mounts"]
    # the emptyDir is the pod's directory: what the container wrote is there, on the node
    assert (reports / ".probe").read_text() == "written by the container"
    for path in ("/etc/chaosgate", "/reports", "/etc/notification-sink"):
        assert not os.path.lexists(path)


def test_an_empty_dir_is_shared_by_two_containers_and_read_only_where_mounted_so(
    tmp_path: Path, host_unchanged: None
) -> None:
    shared = tmp_path / "volumes" / "records"
    (shared / "sub").mkdir(parents=True)
    (shared / "sub" / "seed").write_text("from the first")
    writer = _run(
        tmp_path,
        (Mount("records", "/var/lib/notification-sink", False, source=str(shared)),),
        ["/var/lib/notification-sink"],
        name="writer",
    )
    assert writer["writable"] == {"/var/lib/notification-sink": True}
    reader = _run(
        tmp_path,
        (Mount("records", "/srv/records", True, sub_path="sub", source=str(shared)),),
        ["/srv/records/seed", "/srv/records"],
        name="reader",
    )
    assert reader["files"]["/srv/records/seed"] == "from the first"
    assert reader["writable"] == {"/srv/records": errno.EROFS}
    assert (shared / ".probe").is_file() and not (shared / "sub" / ".probe").exists()


def test_a_file_sub_path_over_an_existing_host_file_shows_the_volume_not_the_host(
    tmp_path: Path, host_unchanged: None
) -> None:
    host_file = tmp_path / "app.conf"
    host_file.write_text("the host's")
    seen = _run(
        tmp_path,
        (
            Mount(
                "conf",
                str(host_file),
                True,
                sub_path="app.conf",
                files=(VolumeFile("app.conf", b"the volume's", 0o640), VolumeFile("x", b"", 0o644)),
            ),
        ),
        [str(host_file)],
    )
    assert seen["files"][str(host_file)] == "the volume's"
    assert seen["modes"][str(host_file)] == "0o640"
    assert host_file.read_text() == "the host's"


def _spawn_error(tmp_path: Path, mounts: tuple[Mount, ...], argv: list[str]) -> OSError:
    (tmp_path / "root").mkdir(exist_ok=True)
    fd = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        with pytest.raises(OSError) as caught:
            spawn_with_volumes(
                argv, {"PATH": "/usr/bin:/bin"}, "/", fd, Sandbox(str(tmp_path / "root"), mounts)
            )
    finally:
        os.close(fd)
    return caught.value


def test_a_failed_mount_or_exec_is_the_spawns_error_and_leaves_nothing_mounted(
    tmp_path: Path, host_unchanged: None
) -> None:
    files = (VolumeFile("a", b"1", 0o644),)
    missing_sub = _spawn_error(tmp_path, (Mount("v", "/x", True, "nope", files=files),), ["true"])
    assert missing_sub.errno == errno.ENOENT
    assert missing_sub.strerror == "volume 'v' at /x: subPath 'nope' is not in the volume"
    not_a_dir = _spawn_error(tmp_path, (Mount("v", "/etc/hostname", True, files=files),), ["true"])
    assert not_a_dir.errno == errno.ENOTDIR
    assert "volume 'v' at /etc/hostname: /etc/hostname exists and is not a directory" in str(
        not_a_dir
    )
    no_program = _spawn_error(tmp_path, (Mount("v", "/x", True, files=files),), ["no-such-prog"])
    assert no_program.errno == errno.ENOENT
    # the launchers were reaped: no child of this test is left
    assert subprocess.run(["pgrep", "-P", str(os.getpid())], capture_output=True).stdout == b""


def test_the_host_sees_a_containers_working_directory_at_its_own_path(
    tmp_path: Path, host_unchanged: None
) -> None:
    """What reads /proc/PID/cwd from the host (a test writing into a pod's sandbox dir) finds
    the directory the container works in, as for a container without volumes."""
    (tmp_path / "root").mkdir()
    (sandbox := tmp_path / "sandbox").mkdir()
    files = (VolumeFile("token", b"t", 0o644),)
    fd = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        process = spawn_with_volumes(
            ["sh", "-c", "while [ ! -e ready ]; do sleep 0.05; done; cat ready"],
            {"PATH": "/usr/bin:/bin"},
            str(sandbox),
            fd,
            Sandbox(str(tmp_path / "root"), (Mount("sa", SA_DIR, True, files=files),)),
        )
    finally:
        os.close(fd)
    try:
        assert os.readlink(f"/proc/{process.pid}/cwd") == str(sandbox)
        assert os.readlink(f"/proc/{process.pid}/root") == "/"
        (Path(f"/proc/{process.pid}/cwd").resolve() / "ready").write_text("seen")
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
    assert (tmp_path / "log").read_text() == "seen"
