"""Filesystems that really fill up, on loop devices of their own (``type: python`` activities).

- ``fill_disk``: for each of ``count``, a small ext4 filesystem of its own: an image file under
  the stack's data dir (``<data dir>/chaos/disk-fill-<i>.img``), ``mkfs.ext4``, a loop device
  (``losetup``), mounted at ``<run dir>/chaos/disk-fill-<i>`` and filled to ``fill_percent`` by
  one preallocated file. Never the machine's own filesystems: a full root disk would take the
  stack (and the machine) down with it. node-exporter reads the mounts of PID 1 and statfs()
  of each at every scrape, so it reports these as real ext4 filesystems, and NodeDiskAlmostFull
  fires for each (its ``mountpoint`` label is the mount point);
- ``release_disk``: the rollback: unmount, detach the loop device, delete the image and the
  mount point, for every recorded filesystem, whatever part of that exists.

Each filesystem is recorded in ``<run dir>/chaos-disk.json`` before anything of it is made
(and its loop device as soon as it is known, before mounting), so a rollback played by another
process after a crash finds it; a loop device attached but not yet recorded is found by its
image (``losetup -j``). Needs root (mount, losetup); a clear ``ActivityFailed`` when not.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_records import RECORD_LOCK, read_record, record_path, write_record
from chaosgate.chaos.local_stack import current_layout

__all__ = ["NODE_EXPORTER_MOUNT_EXCLUDE", "fill_disk", "mounted", "release_disk", "used_share"]

_DISK_FILE = "chaos-disk.json"
_FILL_NAME = "fill"
_COMMAND_TIMEOUT_S = 60.0
_TOOLS = ("mkfs.ext4", "losetup", "mount", "umount")
# Debian's prometheus-node-exporter 1.5: --collector.filesystem.mount-points-exclude default
NODE_EXPORTER_MOUNT_EXCLUDE = re.compile(
    r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)


def used_share(path: str | Path) -> float:
    """1 - available / size of the filesystem at ``path``, as node-exporter and the rule see it
    (``node_filesystem_avail_bytes`` is f_bavail, ``node_filesystem_size_bytes`` f_blocks)."""
    stats = os.statvfs(path)
    return 1.0 - stats.f_bavail / stats.f_blocks


def mounted(mountpoint: str | Path) -> bool:
    """True when something is mounted at ``mountpoint`` (this process's mount table)."""
    target = str(mountpoint)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 1 and _unescape(fields[1]) == target:
                return True
    return False


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _run(command: list[str]) -> str:
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_COMMAND_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ActivityFailed(f"`{' '.join(command)}` could not run: {exc}") from exc
    if done.returncode != 0:
        raise ActivityFailed(
            f"`{' '.join(command)}` failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[:300]}"
        )
    return done.stdout


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ActivityFailed(f"{name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _paths(index: int) -> tuple[Path, Path]:
    layout = current_layout()
    name = f"disk-fill-{index}"
    return layout.data_dir / "chaos" / f"{name}.img", layout.run_dir / "chaos" / name


def _check_can_mount(mountpoints: list[Path]) -> None:
    if os.geteuid() != 0:
        raise ActivityFailed(
            "fill_disk mounts loop-device filesystems and needs root; run the experiment as root"
        )
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        raise ActivityFailed(
            f"fill_disk needs {', '.join(missing)} on PATH; install the Debian packages "
            "e2fsprogs and mount"
        )
    hidden = [str(p) for p in mountpoints if NODE_EXPORTER_MOUNT_EXCLUDE.match(str(p))]
    if hidden:
        raise ActivityFailed(
            f"mount point {hidden[0]} is one node-exporter leaves out (its default "
            "mount-points-exclude), so no alert could ever see it; set CHAOSGATE_STACK_DIR "
            "outside /dev, /proc, /run, /sys, /mnt and /media"
        )


def _update(image: str, **changes: Any) -> None:
    path = record_path(_DISK_FILE)
    entries = read_record(path)
    for entry in entries:
        if entry.get("image") == image:
            entry.update(changes)
    write_record(path, entries)


def fill_disk(size_mb: int = 32, fill_percent: float = 95, count: int = 1) -> dict[str, Any]:
    """Make ``count`` ext4 filesystems of ``size_mb`` MB, each filled to ``fill_percent`` %."""
    size = _whole("size_mb", size_mb, 8, 1024)
    number = _whole("count", count, 1, 8)
    if (
        isinstance(fill_percent, bool)
        or not isinstance(fill_percent, int | float)
        or not 1 <= fill_percent <= 99
    ):
        raise ActivityFailed(f"fill_percent must be a number from 1 to 99, got {fill_percent!r}")
    planned = [_paths(index) for index in range(number)]
    _check_can_mount([mountpoint for _image, mountpoint in planned])
    path = record_path(_DISK_FILE)
    with RECORD_LOCK:
        if read_record(path):
            raise ActivityFailed(
                f"a disk fill is already recorded in {path}; play release_disk first"
            )
        write_record(
            path,
            [{"image": str(i), "mountpoint": str(m), "loop": None} for i, m in planned],
        )
        filled = [_make(image, mount, size, float(fill_percent)) for image, mount in planned]
    return {"filesystems": filled}


def _make(image: Path, mountpoint: Path, size_mb: int, fill_percent: float) -> dict[str, Any]:
    image.parent.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as sparse:
        sparse.truncate(size_mb * 1024 * 1024)
    _run(["mkfs.ext4", "-q", "-F", "-L", mountpoint.name, str(image)])
    loop = _run(["losetup", "--find", "--show", str(image)]).strip()
    _update(str(image), loop=loop)  # recorded before it is mounted
    mountpoint.mkdir(parents=True, exist_ok=True)
    _run(["mount", "-t", "ext4", loop, str(mountpoint)])
    stats = os.statvfs(mountpoint)
    size = stats.f_blocks * stats.f_frsize
    used = size - stats.f_bavail * stats.f_frsize
    wanted = int(size * fill_percent / 100) - used
    if wanted > 0:
        fd = os.open(mountpoint / _FILL_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, wanted)
        except OSError as exc:
            raise ActivityFailed(
                f"filling {mountpoint} with {wanted} bytes failed ({exc}); give a lower "
                "fill_percent or a larger size_mb"
            ) from exc
        finally:
            os.close(fd)
    return {
        "mountpoint": str(mountpoint),
        "device": loop,
        "image": str(image),
        "size_bytes": size,
        "used_percent": round(used_share(mountpoint) * 100, 2),
    }


def _loops_of(image: Path) -> list[str]:
    """Loop devices backed by ``image`` (``losetup -j``: "/dev/loop0: [2049]:12 (/path)")."""
    if not image.exists():
        return []
    listing = _run(["losetup", "-j", str(image)])
    return [line.split(":", 1)[0] for line in listing.splitlines() if line.strip()]


def _backing_file(loop: str) -> str | None:
    """The file behind loop device ``loop`` (/sys), without a " (deleted)" suffix."""
    try:
        text = Path(f"/sys/block/{Path(loop).name}/loop/backing_file").read_text().strip()
    except OSError:
        return None
    return text.removesuffix(" (deleted)")


def release_disk() -> dict[str, Any]:
    """Undo every recorded ``fill_disk`` filesystem; a no-op when none is recorded."""
    path = record_path(_DISK_FILE)
    with RECORD_LOCK:
        entries = read_record(path)
        if not entries:
            return {"released": []}
        if os.geteuid() != 0:
            raise ActivityFailed(
                f"release_disk must unmount and detach what {path} records and needs root; "
                "run it as root"
            )
        released: list[dict[str, Any]] = []
        kept: list[dict[str, Any]] = []
        problems: list[str] = []
        for entry in entries:
            try:
                released.append(_undo(entry))
            except ActivityFailed as exc:
                problems.append(str(exc))
                kept.append(entry)
        write_record(path, kept)
    if problems:
        raise ActivityFailed(
            f"release_disk left {len(kept)} filesystem(s) recorded in {path}: "
            f"{'; '.join(problems)}; fix that and play release_disk again"
        )
    return {"released": released}


def _undo(entry: dict[str, Any]) -> dict[str, Any]:
    image = Path(str(entry.get("image", "")))
    mountpoint = Path(str(entry.get("mountpoint", "")))
    done: dict[str, Any] = {"mountpoint": str(mountpoint), "unmounted": False, "detached": []}
    if mounted(mountpoint):
        try:
            _run(["umount", str(mountpoint)])
        except ActivityFailed:
            _run(["umount", "--lazy", str(mountpoint)])  # busy: detach it now, free it later
        done["unmounted"] = True
    loops = set(_loops_of(image))
    recorded = entry.get("loop")
    if isinstance(recorded, str) and _backing_file(recorded) == str(image):
        loops.add(recorded)  # the image is gone but its loop device still holds it
    for loop in sorted(loops):
        _run(["losetup", "-d", loop])
        done["detached"].append(loop)
    image.unlink(missing_ok=True)
    for directory in (mountpoint, mountpoint.parent, image.parent):
        with contextlib.suppress(OSError):
            directory.rmdir()  # only if empty: nothing of anyone else's is removed
    return done
