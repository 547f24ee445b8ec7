"""The launcher half of :mod:`refstack.node.mountns`, run as ``python -I -S nslauncher.py
SPEC_FD STATUS_FD`` as a container's first process: it reads the plan from ``SPEC_FD``, makes
the private mount namespace, the new root and the volumes (the steps are in
:mod:`refstack.node.mountns`), then execs the container's command. A failure is written to
``STATUS_FD`` as JSON ``{"errno", "message"}``; a successful exec closes it (close-on-exec).

A file of its own that imports only what it needs from the stdlib (no dataclasses, no
subprocess: 28 ms of Python start instead of 63 ms on this machine), and nothing of the
repository, since ``-I -S`` leaves both out of ``sys.path``.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import Any

_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_MOVE = 8192
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MNT_DETACH = 2
_STAGING = "/.chaosgate-volume"  # where a files volume is filled before it is bound in place


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

    def move_to_root(self) -> None:
        """Move the mount at the working directory onto ``/``."""
        self._check(self._mount(b".", b"/", None, _MS_MOVE, None), "cannot move the new root")

    def detach(self, target: str) -> None:
        self._check(self._umount2(target.encode(), _MNT_DETACH), f"cannot unmount {target}")


def _shadow(sys_: _Syscalls, target: str, source_fd: int) -> None:
    """Mount a tmpfs on ``target`` holding what the directory ``source_fd`` holds: each entry
    bind-mounted from it (symlinks copied), owner and mode kept. Writes go to the tmpfs.

    The entries are those of the moment: one the host adds later is not seen in the container,
    and one that vanishes while this runs (a temporary file) is left out."""
    info = os.fstat(source_fd)
    sys_.tmpfs(target, stat.S_IMODE(info.st_mode))
    os.chown(target, info.st_uid, info.st_gid)
    for entry in os.scandir(f"/proc/self/fd/{source_fd}"):
        placeholder = os.path.join(target, entry.name)
        try:
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), placeholder)
                continue
            if entry.is_dir(follow_symlinks=False):
                os.mkdir(placeholder)
            else:
                os.close(os.open(placeholder, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
            sys_.bind(entry.path, placeholder)
        except (FileNotFoundError, _SetupError) as exc:
            if isinstance(exc, _SetupError) and exc.code != errno.ENOENT:
                raise
            if os.path.lexists(placeholder) and not os.path.ismount(placeholder):
                if os.path.isdir(placeholder) and not os.path.islink(placeholder):
                    os.rmdir(placeholder)
                else:
                    os.unlink(placeholder)


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
    # switch to the new root as switch_root does: moved onto "/", so a path in the container
    # is the same path in its namespace (the host reads /proc/PID/cwd as the container's cwd)
    os.chdir(root)
    sys_.move_to_root()
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
