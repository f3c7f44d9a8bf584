"""Sandbox launcher: isolates itself, then runs one untrusted command. Standard library only.

Started by :class:`codecustom.evaluation.sandbox.Sandbox` as ``python -I -S launcher.py CONFIG_JSON``
in a new session. It joins a pids cgroup (when given), enters new namespaces where the kernel allows
(user for non-root, mount, network, pid), makes every mount read-only except the writable paths, mounts
fresh tmpfs/proc, sets rlimits, drops all capabilities and privileges, and runs the command as a child
of a tiny init that exits when the command exits, so the kernel kills whatever the command left behind.
What isolation it achieved is written as one JSON line to the status file descriptor.
"""

import ctypes
import errno
import fcntl
import json
import os
import resource
import signal
import socket
import struct
import sys
import time

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 0x1
SYS_MOUNT_SETATTR = 442  # same number on every architecture (new-style syscall table)
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG = 38, 24, 36, 1
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
SETUP_FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.syscall.restype = ctypes.c_long


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _unshare(flags, what):
    _check(libc.unshare(ctypes.c_int(flags)), f"unshare({what})")


def _mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _mount_setattr(path, attr_set, attr_clr):
    attr = MountAttr(attr_set, attr_clr, 0, 0)
    res = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(AT_FDCWD), ctypes.c_char_p(path.encode()),
                       ctypes.c_uint(AT_RECURSIVE), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    _check(0 if res == 0 else -1, f"mount_setattr {path}")


def _write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


def enter_namespaces(cfg, status):
    """Unshare what the kernel allows; for non-root a user namespace comes first and maps our own ids."""
    uid, gid = os.getuid(), os.getgid()
    want = cfg["isolate"]
    if uid != 0 and (want.get("filesystem") or want.get("network") or want.get("pid")):
        try:
            _unshare(CLONE_NEWUSER, "user")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
        except OSError as exc:
            status["notes"].append(f"no user namespace ({exc.strerror}); namespaces need one when not root")
            return
    for key, flag in (("filesystem", CLONE_NEWNS), ("network", CLONE_NEWNET), ("pid", CLONE_NEWPID)):
        if want.get(key):
            try:
                _unshare(flag, key)
                status[key] = True
            except OSError as exc:
                status["notes"].append(f"no {key} namespace ({exc.strerror})")


def loopback_up(status):
    """A new network namespace has only a loopback interface, and it is down: bring it up (local only)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            req = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, req))[1]
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    except OSError as exc:
        status["notes"].append(f"loopback left down ({exc.strerror})")


def setup_filesystem(cfg, status):
    """Everything read-only except the writable paths; private tmpfs on /dev/shm; a proc for our pid ns."""
    if not status["filesystem"]:
        return
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        writable = [os.path.realpath(p) for p in cfg["writable"]]
        for path in writable:
            _mount(path, path, None, MS_BIND | MS_REC)
        _mount_setattr("/", MOUNT_ATTR_RDONLY, 0)
        for path in writable:
            _mount_setattr(path, 0, MOUNT_ATTR_RDONLY)
    except OSError as exc:
        status["filesystem"] = False
        status["notes"].append(f"could not make the filesystem read-only ({exc})")
        return
    for target, fstype, flags, data in (("/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=64m"),
                                        ("/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)):
        if fstype == "proc" and not status["pid"]:
            continue
        if os.path.isdir(target):
            try:
                _mount(fstype, target, fstype, flags, data)
            except OSError as exc:
                status["notes"].append(f"no private {target} ({exc.strerror})")


def set_limits(cfg):
    for name, value in cfg["rlimits"].items():
        resource.setrlimit(getattr(resource, "RLIMIT_" + name), (value, value))


def drop_privileges(status):
    """No capabilities after exec (root included), and no way to regain any (setuid binaries)."""
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    status["no_new_privs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def run_init(cfg, status_fd, status):
    """PID 1 of the sandbox (or a plain child): finish setup, run the command, exit with its status."""
    setup_filesystem(cfg, status)
    if status["network"]:
        loopback_up(status)
    missing = [k for k in cfg.get("require", []) if not status.get(k)]
    if missing:
        os.write(status_fd, (json.dumps(status) + "\n").encode())
        sys.stderr.write(f"sandbox: required isolation unavailable: {', '.join(missing)}; {'; '.join(status['notes'])}\n")
        os._exit(SETUP_FAILED)
    set_limits(cfg)
    drop_privileges(status)
    os.write(status_fd, (json.dumps(status) + "\n").encode())
    os.close(status_fd)
    child = os.fork()
    if child == 0:
        try:
            os.chdir(cfg["cwd"])
            os.execvpe(cfg["argv"][0], cfg["argv"], cfg["env"])
        except OSError as exc:
            sys.stderr.write(f"sandbox: cannot run {cfg['argv'][0]}: {exc.strerror}\n")
        os._exit(127)
    while True:  # reap everything; leave when the command itself is done
        try:
            pid, code = os.wait()
        except ChildProcessError:
            os._exit(126)
        if pid == child:
            if not status["pid"]:  # no namespace to take the leftovers down with us: kill them here
                kill_children()
            os._exit(os.waitstatus_to_exitcode(code) if os.WIFEXITED(code) else 128 + os.WTERMSIG(code))


def kill_children():
    """SIGKILL every child until none is left; as a subreaper, orphaned descendants become children."""
    me = str(os.getpid())
    for _ in range(1000):
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[1] == me:
                    pids.append(int(entry))
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        if not pids:
            return
        time.sleep(0.005)


def main():
    cfg = json.loads(sys.argv[1])
    status_fd = cfg["status_fd"]
    os.set_inheritable(status_fd, True)
    status = {"filesystem": False, "network": False, "pid": False, "cgroup": False, "no_new_privs": False,
              "notes": []}
    if cfg.get("cgroup_procs"):
        try:
            _write(cfg["cgroup_procs"], str(os.getpid()))
            status["cgroup"] = True
        except OSError as exc:
            status["notes"].append(f"could not join the pids cgroup ({exc.strerror})")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the command stay ours to kill
    enter_namespaces(cfg, status)
    if not status["pid"]:
        run_init(cfg, status_fd, status)
    init = os.fork()  # the first child after unshare(CLONE_NEWPID) is PID 1 of the new namespace
    if init == 0:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        run_init(cfg, status_fd, status)
    os.close(status_fd)
    while True:
        try:
            pid, code = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
    sys.exit(os.waitstatus_to_exitcode(code) if os.WIFEXITED(code) else 128 + os.WTERMSIG(code))


if __name__ == "__main__":
    main()
