"""A container's process in its own mount namespace, with its volumes at their mountPaths.

The agent (:func:`spawn_with_volumes`) starts this file as a script, ``python -I -S
mountns.py SPEC_FD STATUS_FD``, in the container's new session, writes the plan
(:class:`Sandbox`: the container's argv, env, cwd and mounts) as JSON into ``SPEC_FD`` and
reads ``STATUS_FD`` until it closes. The launcher:

1. ``unshare(CLONE_NEWNS)`` and marks every mount private, so nothing it mounts reaches the
   host's namespace (and nothing mounted later on the host reaches the container);
2. mounts a tmpfs on the sandbox's ``root`` (an empty directory in the pod's folder under the
   node's state dir), recreates the host's top-level entries in it (each directory and file
   bind-mounted recursively from the host, symlinks copied) and ``chroot``\\s into it: the
   container sees the machine's file system as before, and a new top-level directory such as
   ``/reports`` is made on that tmpfs, not on the host's ``/``;
3. makes each mount point: a missing directory under a host directory (``/etc/chaosgate``,
   ``/run/secrets/...``) is made after that host directory is shadowed the same way (a tmpfs
   holding bind mounts of all its entries), so the host's ``/etc`` is never written;
4. mounts each volume, parents first: a files volume (ConfigMap, Secret, projected, downward
   API; the agent resolved their contents) is a fresh tmpfs filled with the files and their
   modes, then bind-mounted (its ``subPath`` only, when set) read-only at the mountPath, as the
   kubelet mounts these sources; a directory volume (emptyDir, a per-pod directory shared by
   the pod's containers) is bind-mounted, read-only when the mount says so;
5. ``chdir``\\s to the container's working directory and ``exec``\\s its command, so the
   container's PID is this process's. ``STATUS_FD`` is close-on-exec: EOF without a word means
   the command runs; a JSON ``{"errno", "message"}`` means the setup or the exec failed, and
   :func:`spawn_with_volumes` raises it as :class:`OSError` (the container's ``StartError``).

Every mount lives only in the namespace: it vanishes when the container's last process exits.

Why ctypes on libc's ``unshare``/``mount`` rather than util-linux's ``unshare`` binary
(``os.unshare`` is Python 3.12+): the binary only creates the namespace; the dozens of mounts
would still need a program, one ``mount(8)`` fork each, and its errors would come back as
text. One Python process doing the syscalls reports which volume and path failed with its
errno, and needs nothing from util-linux. Why a launcher that execs rather than
``preexec_fn``: the agent is multi-threaded, and Python code between fork and exec in such a
process can deadlock. Why a pipe for the plan: it holds Secret data and the pod's token, which
then never touch the disk. It runs with ``-I -S`` (stdlib only, so this module imports nothing
of the repository) to start in ~20 ms. Needs root (CAP_SYS_ADMIN), as a kubelet does.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import json
import os
import select
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LAUNCHER", "Mount", "Sandbox", "VolumeFile", "spawn_with_volumes"]

LAUNCHER = Path(__file__).resolve()
SETUP_TIMEOUT_S = 30.0

_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2
_STAGING = "/.chaosgate-volume"


@dataclass(frozen=True)
class VolumeFile:
    """One file of a files volume: its path inside the volume, bytes and mode."""

    path: str
    data: bytes
    mode: int


@dataclass(frozen=True)
class Mount:
    """One volumeMount: either ``files`` (a tmpfs filled with them) or ``source`` (a host
    directory bind-mounted)."""

    volume: str  # the volume's name, for messages
    path: str  # mountPath
    read_only: bool
    sub_path: str = ""
    files: tuple[VolumeFile, ...] | None = None
    source: str | None = None


@dataclass(frozen=True)
class Sandbox:
    """What the launcher sets up: the container's mounts under a new root, then its command."""

    root: str  # an empty directory the new root's tmpfs is mounted on
    mounts: tuple[Mount, ...]


def _plan_json(sandbox: Sandbox, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> bytes:
    mounts = [
        {
            "volume": m.volume,
            "path": m.path,
            "read_only": m.read_only,
            "sub_path": m.sub_path,
            "source": m.source,
            "files": None
            if m.files is None
            else [
                {"path": f.path, "mode": f.mode, "data": base64.b64encode(f.data).decode()}
                for f in m.files
            ],
        }
        for m in sandbox.mounts
    ]
    plan = {"argv": list(argv), "env": dict(env), "cwd": cwd, "root": sandbox.root}
    return json.dumps({**plan, "mounts": mounts}).encode()


# -- the agent's side --------------------------------------------------------------------------


def _read_status(fd: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def spawn_with_volumes(
    argv: Sequence[str], env: Mapping[str, str], cwd: str, log_fd: int, sandbox: Sandbox
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session and mount namespace holding ``sandbox``'s volumes.

    Returns once the command was exec'd; raises OSError (the launcher's message) when a mount
    or the exec failed, or the setup took longer than :data:`SETUP_TIMEOUT_S`.
    """
    spec_read, spec_write = os.pipe()
    status_read, status_write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(LAUNCHER), str(spec_read), str(status_write)],
            env={},
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=log_fd,
            start_new_session=True,
            close_fds=True,
            pass_fds=(spec_read, status_write),
        )
    except BaseException:
        for fd in (spec_read, spec_write, status_read, status_write):
            os.close(fd)
        raise
    os.close(spec_read)
    os.close(status_write)
    try:
        try:
            with os.fdopen(spec_write, "wb") as spec:
                spec.write(_plan_json(sandbox, argv, env, cwd))
        except BrokenPipeError:
            pass  # the launcher died early; its status (or its exit) says why
        try:
            status = _read_status(status_read, time.monotonic() + SETUP_TIMEOUT_S)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise OSError(
                errno.ETIMEDOUT, f"setting up the volumes took over {SETUP_TIMEOUT_S:g}s"
            ) from None
    finally:
        os.close(status_read)
    if status:
        process.wait()
        report = json.loads(status)
        raise OSError(int(report["errno"]), str(report["message"]))
    return process


# -- the launcher's side (runs as a script in the child; stdlib only) -------------------------


class _SetupError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class _Syscalls:
    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._mount = libc.mount
        self._mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self._umount2 = libc.umount2
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._unshare = libc.unshare
        self._unshare.argtypes = [ctypes.c_int]

    @staticmethod
    def _check(result: int, what: str) -> None:
        if result != 0:
            code = ctypes.get_errno()
            raise _SetupError(code, f"{what}: {os.strerror(code)}")

    def unshare_mounts(self) -> None:
        self._check(
            self._unshare(_CLONE_NEWNS),
            "cannot make a private mount namespace (the node agent must run as root to give "
            "a pod's containers their volumes)",
        )
        self._check(
            self._mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None),
            "cannot make the namespace's mounts private",
        )

    def tmpfs(self, target: str, mode: int) -> None:
        self._check(
            self._mount(
                b"tmpfs",
                target.encode(),
                b"tmpfs",
                _MS_NOSUID | _MS_NODEV,
                f"mode={mode:o}".encode(),
            ),
            f"cannot mount a tmpfs on {target}",
        )

    def bind(self, source: str, target: str, read_only: bool = False) -> None:
        self._check(
            self._mount(source.encode(), target.encode(), None, _MS_BIND | _MS_REC, None),
            f"cannot bind-mount {target}",
        )
        if read_only:
            flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
            self._check(
                self._mount(None, target.encode(), None, flags, None),
                f"cannot make {target} read-only",
            )

    def detach(self, target: str) -> None:
        self._check(self._umount2(target.encode(), _MNT_DETACH), f"cannot unmount {target}")


def _shadow(sys_: _Syscalls, target: str, source_fd: int) -> None:
    """Mount a tmpfs on ``target`` holding what the directory ``source_fd`` holds: each entry
    bind-mounted from it (symlinks copied), owner and mode kept. Writes to the tmpfs."""
    info = os.fstat(source_fd)
    sys_.tmpfs(target, stat.S_IMODE(info.st_mode))
    os.chown(target, info.st_uid, info.st_gid)
    for entry in os.scandir(f"/proc/self/fd/{source_fd}"):
        placeholder = os.path.join(target, entry.name)
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), placeholder)
            continue
        if entry.is_dir(follow_symlinks=False):
            os.mkdir(placeholder)
        else:
            os.close(os.open(placeholder, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        sys_.bind(entry.path, placeholder)


def _mount_point(sys_: _Syscalls, path: str, is_dir: bool, ours: set[int]) -> str:
    """The real path to mount on for ``path``, made when missing on a tmpfs of ours."""
    current = "/"
    parts = [p for p in path.split("/") if p]
    for index, name in enumerate(parts):
        candidate = os.path.join(current, name)
        if os.path.lexists(candidate):
            real = os.path.realpath(candidate)
            if not os.path.exists(real):
                raise _SetupError(errno.ENOENT, f"{candidate} is a symlink to nothing ({real})")
            current = real
            continue
        if os.stat(current).st_dev not in ours:
            fd = os.open(current, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                _shadow(sys_, current, fd)
            finally:
                os.close(fd)
            ours.add(os.stat(current).st_dev)
        if index < len(parts) - 1 or is_dir:
            os.mkdir(candidate, 0o755)
        else:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        current = candidate
    if os.path.isdir(current) != is_dir:
        kind = "a directory" if is_dir else "a file"
        raise _SetupError(errno.ENOTDIR, f"{current} exists and is not {kind}")
    return current


def _fill(directory: str, files: Sequence[Mapping[str, Any]]) -> None:
    for item in files:
        target = os.path.join(directory, str(item["path"]))
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64decode(item["data"]))
        os.chmod(target, int(item["mode"]))


def _sub(base: str, sub_path: str) -> str:
    return os.path.join(base, sub_path) if sub_path else base


def _setup(plan: Mapping[str, Any]) -> None:
    sys_ = _Syscalls()
    sys_.unshare_mounts()
    mounts = sorted(plan["mounts"], key=lambda m: len([p for p in m["path"].split("/") if p]))
    # bind sources are opened before anything is mounted over the paths that lead to them
    sources = {
        i: os.open(m["source"], os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        for i, m in enumerate(mounts)
        if m.get("source")
    }
    root = str(plan["root"])
    root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    _shadow(sys_, root, root_fd)
    os.close(root_fd)
    # the recursive bind of the entry holding `root` brought a copy of the new root inside it
    inner = os.path.join(root, root.lstrip("/"))
    if os.path.ismount(inner):
        sys_.detach(inner)
    os.chdir(root)
    os.chroot(".")
    os.chdir("/")
    ours = {os.stat("/").st_dev}
    for index, mount in enumerate(mounts):
        where = f"volume {mount['volume']!r} at {mount['path']}"
        try:
            sub_path = str(mount.get("sub_path") or "")
            if mount.get("files") is not None:
                os.mkdir(_STAGING, 0o700)
                sys_.tmpfs(_STAGING, 0o755)
                _fill(_STAGING, mount["files"])
                staged = _sub(_STAGING, sub_path)
                if not os.path.exists(staged):
                    raise _SetupError(errno.ENOENT, f"subPath {sub_path!r} is not in the volume")
                target = _mount_point(sys_, mount["path"], os.path.isdir(staged), ours)
                sys_.bind(staged, target, read_only=True)
                sys_.detach(_STAGING)
                os.rmdir(_STAGING)
            else:
                source = _sub(f"/proc/self/fd/{sources[index]}", sub_path)
                target = _mount_point(sys_, mount["path"], os.path.isdir(source), ours)
                sys_.bind(source, target, read_only=bool(mount["read_only"]))
        except _SetupError as exc:
            raise _SetupError(exc.code, f"{where}: {exc}") from None
        except OSError as exc:
            raise _SetupError(exc.errno or errno.EIO, f"{where}: {exc}") from None
    for fd in sources.values():
        os.close(fd)
    os.chdir(str(plan["cwd"]))


def _main(argv: Sequence[str]) -> int:
    spec_fd, status_fd = int(argv[1]), int(argv[2])
    try:
        with os.fdopen(spec_fd, "rb") as spec:
            plan = json.loads(spec.read())
        try:
            _setup(plan)
        except _SetupError as exc:
            code, message = exc.code, str(exc)
        except OSError as exc:
            code, message = exc.errno or errno.EIO, str(exc)
        else:
            os.set_inheritable(status_fd, False)
            command = [str(a) for a in plan["argv"]]
            try:
                os.execvpe(command[0], command, {str(k): str(v) for k, v in plan["env"].items()})
            except OSError as exc:
                code, message = exc.errno or errno.EIO, exc.strerror or str(exc)
        os.write(status_fd, json.dumps({"errno": code, "message": message}).encode())
    except BaseException as exc:  # never exit silently: the agent waits for a word or an exec
        os.write(status_fd, json.dumps({"errno": errno.EIO, "message": repr(exc)}).encode())
    return 1


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
