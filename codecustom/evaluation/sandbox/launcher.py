"""Sandbox launcher: isolates itself, then runs one untrusted command. Standard library only.

Started by :class:`codecustom.evaluation.sandbox.Sandbox` as ``python -I -S launcher.py CONFIG_JSON``
in a new session. In order, where the kernel allows:

1. joins a pids cgroup; enters new namespaces (user for non-root callers, mount, network, pid);
2. builds a new root on an empty tmpfs holding only the ``readable`` paths (system folders and the
   interpreter, read-only; the caller's ``shared`` ones idmapped so that root's files there read as
   nobody's) and the ``writable`` paths (the temp copy), plus a minimal /dev, a fresh
   /proc for its PID namespace and a private /tmp — so no host socket, runtime folder (/run, /var/run),
   home or other project is even visible — and pivots into it, detaching the old root;
3. sets rlimits, drops every capability and, when started as root, becomes nobody (65534) after
   handing the writable paths to nobody; sets no-new-privileges;
4. adds a Landlock allow-list of the same paths (see ``landlock.py``);
5. runs the command as a child of a tiny init that exits when the command exits, so the kernel kills
   whatever the command left behind (the PID namespace's init dying takes everyone with it).

What it achieved is written as one JSON line to the status file descriptor.
"""

import ctypes
import errno
import fcntl
import json
import os
import platform
import resource
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import landlock  # noqa: E402

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_MOUNT_SETATTR = 428, 429, 442  # same on every architecture (new table)
OPEN_TREE_CLONE, AT_EMPTY_PATH, MOVE_MOUNT_F_EMPTY_PATH = 1, 0x1000, 0x4
MOUNT_ATTR_IDMAP = 0x00100000
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP, PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG = 38, 24, 36, 1
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
NOBODY = 65534
DEVICES = ("null", "zero", "full", "random", "urandom")
SETUP_FAILED = 125

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
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


def _mount_setattr(path, attr_set, recursive=True, dirfd=AT_FDCWD, userns_fd=0):
    attr = MountAttr(attr_set, 0, 0, userns_fd)
    flags = (AT_RECURSIVE if recursive else 0) | (AT_EMPTY_PATH if dirfd != AT_FDCWD else 0)
    res = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_int(dirfd), ctypes.c_char_p(path.encode()),
                       ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))
    _check(0 if res == 0 else -1, f"mount_setattr {path or dirfd}")


def root_as_nobody_userns():
    """A user namespace fd mapping uid/gid 0 to nobody: an idmapped mount with it shows root's files as
    nobody's. Made by a short-lived child (before the PID namespace, so its /proc entry is ours)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(go_w)
        ok = libc.unshare(ctypes.c_int(CLONE_NEWUSER)) == 0
        os.write(ready_w, b"1" if ok else b"0")
        os.read(go_r, 1)
        os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        if os.read(ready_r, 1) != b"1":
            raise OSError(errno.EPERM, "cannot create a user namespace")
        _write(f"/proc/{child}/uid_map", f"0 {NOBODY} 1")
        _write(f"/proc/{child}/setgroups", "deny")
        _write(f"/proc/{child}/gid_map", f"0 {NOBODY} 1")
        return os.open(f"/proc/{child}/ns/user", os.O_RDONLY)
    finally:
        os.write(go_w, b"1")
        os.close(go_w)
        os.close(ready_r)
        os.waitpid(child, 0)


def _bind_as_nobody(src, dst, userns_fd):
    """A read-only bind of ``src`` on which root's files appear as nobody's (an idmapped mount)."""
    _placeholder(dst, os.path.isdir(src))
    tree = libc.syscall(ctypes.c_long(SYS_OPEN_TREE), ctypes.c_int(AT_FDCWD), ctypes.c_char_p(src.encode()),
                        ctypes.c_uint(OPEN_TREE_CLONE | os.O_CLOEXEC | AT_RECURSIVE))
    _check(0 if tree >= 0 else -1, f"open_tree {src}")
    try:
        _mount_setattr("", MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
                       dirfd=tree, userns_fd=userns_fd)
        res = libc.syscall(ctypes.c_long(SYS_MOVE_MOUNT), ctypes.c_int(tree), ctypes.c_char_p(b""),
                           ctypes.c_int(AT_FDCWD), ctypes.c_char_p(dst.encode()), ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH))
        _check(0 if res == 0 else -1, f"move_mount {dst}")
    finally:
        os.close(tree)


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


def _placeholder(path, is_dir):
    """A mount point at ``path`` inside the new root (a folder, or an empty file for a file mount)."""
    if is_dir:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _bind(src, dst, writable):
    _placeholder(dst, os.path.isdir(src))
    _mount(src, dst, None, MS_BIND | MS_REC)
    _mount_setattr(dst, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (0 if writable else MOUNT_ATTR_RDONLY))


def _mounts_in_order(cfg):
    """(path, writable) for every path to show, parents before children, covered read-only paths dropped."""
    entries = {}
    for path in cfg["readable"]:
        entries.setdefault(os.path.normpath(path), False)
    for path in cfg["writable"]:
        entries[os.path.normpath(path)] = True
    shown = []
    for path in sorted(entries, key=lambda p: (p.count("/"), p)):
        # a read-only path inside another shown one is shown already (and must not make a writable one read-only)
        covered = any(path.startswith(p.rstrip("/") + "/") for p, w in shown if w or not entries[path])
        if os.path.lexists(path) and not (covered and not entries[path]):
            shown.append((path, entries[path]))
    return shown


def _pivot(root):
    """Make ``root`` the root of this mount namespace and detach the old one entirely."""
    os.chdir(root)
    number = SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(0 if libc.syscall(ctypes.c_long(number), b".", b".") == 0 else -1, "pivot_root")
    _check(libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def setup_filesystem(cfg, status, userns_fd=None):
    """A new root holding only the readable (read-only) and writable paths, /dev, /proc and /tmp.

    ``shared`` paths (what the caller chose to show, like ~/.m2) are readable by the command even when
    only their owner, root, could read them: with ``userns_fd`` they are idmapped root -> nobody."""
    if not status["filesystem"]:
        return
    root = cfg["root_dir"]
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=755")
        for target, size in (("/tmp", "256m"), ("/dev/shm", "64m")):  # first: a temp copy may live in /tmp
            os.makedirs(root + target)
            _mount("tmpfs", root + target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
        shared = set(cfg.get("shared", []))
        for path, writable in _mounts_in_order(cfg):
            if os.path.islink(path) and not writable:  # /lib -> usr/lib on merged-/usr systems
                os.makedirs(os.path.dirname(root + path), exist_ok=True)
                os.symlink(os.readlink(path), root + path)
            elif path in shared and userns_fd is not None:
                try:
                    _bind_as_nobody(path, root + path, userns_fd)
                except OSError as exc:
                    status["notes"].append(f"{path} shown as is; nobody may not read all of it ({exc.strerror})")
                    _bind(path, root + path, writable)
            else:
                _bind(path, root + path, writable)
        for name in DEVICES:
            if os.path.exists("/dev/" + name):
                _placeholder(root + "/dev/" + name, False)
                _mount("/dev/" + name, root + "/dev/" + name, None, MS_BIND)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):
            os.symlink(target, f"{root}/dev/{name}")
        os.makedirs(root + "/proc")
        if status["pid"]:
            try:
                _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            except OSError as exc:
                status["notes"].append(f"no /proc inside the sandbox ({exc.strerror})")
        else:
            status["notes"].append("no /proc inside the sandbox (no PID namespace to give it a private one)")
        _pivot(root)
        _mount_setattr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, recursive=False)
    except OSError as exc:
        status["filesystem"] = False
        status["notes"].append(f"could not build the private filesystem view ({exc})")
        if "filesystem" in cfg.get("require", []):
            _fail_setup(cfg["status_fd"], status, "sandbox: required isolation unavailable: filesystem; "
                                                  + status["notes"][-1])


def own_writable(cfg, uid, gid):
    """Hand the writable paths to the user the command runs as (links are never followed)."""
    for top in cfg["writable"]:
        for dirpath, dirnames, filenames in os.walk(top):
            os.chown(dirpath, uid, gid, follow_symlinks=False)
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                if st.st_nlink == 1 or os.path.isdir(path):  # a hard link's other names may lie outside
                    os.chown(path, uid, gid, follow_symlinks=False)


def set_limits(cfg):
    for name, value in cfg["rlimits"].items():
        which = getattr(resource, "RLIMIT_" + name)
        hard = resource.getrlimit(which)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)  # raising needs CAP_SYS_RESOURCE
        resource.setrlimit(which, (value, value))


def drop_privileges(cfg, status):
    """No capabilities after exec, no way to regain any (setuid binaries), and root becomes nobody."""
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break
    if os.getuid() == 0:
        try:
            own_writable(cfg, NOBODY, NOBODY)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
        except OSError as exc:
            status["notes"].append(f"could not become nobody ({exc})")
    uid = os.getuid()
    status["uid"] = uid
    status["unprivileged"] = uid != 0
    status["no_new_privs"] = libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def confine(cfg, status):
    """The Landlock allow-list: the same paths the view shows (or, without a view, the host's)."""
    view = status["filesystem"]
    read = list(cfg["readable"]) + ["/proc"] + ["/dev/" + d for d in ("random", "urandom")]
    write = list(cfg["writable"]) + ["/dev/" + d for d in ("null", "zero", "full")]
    if view:  # private tmpfs mounts; on the host's filesystem these would be shared
        write += ["/tmp", "/dev/shm"]
    try:
        status["landlock"] = landlock.restrict(read, write, listable=("/",) if view else (),
                                               block_tcp=not status["network"])
    except OSError as exc:
        status["notes"].append(f"no Landlock ({exc.strerror or exc})")


def _fail_setup(status_fd, status, message):
    os.write(status_fd, (json.dumps(status) + "\n").encode())
    sys.stderr.write(message + "\n")
    os._exit(SETUP_FAILED)


def run_init(cfg, status_fd, status, userns_fd=None):
    """PID 1 of the sandbox (or a plain child): finish setup, run the command, exit with its status."""
    setup_filesystem(cfg, status, userns_fd)
    if userns_fd is not None:
        os.close(userns_fd)
    if status["network"]:
        loopback_up(status)
    set_limits(cfg)
    drop_privileges(cfg, status)
    if status["pid"]:  # changing uid cleared it
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    confine(cfg, status)
    missing = [k for k in cfg.get("require", []) if not status.get(k)]
    if missing:
        _fail_setup(status_fd, status, f"sandbox: required isolation unavailable: {', '.join(missing)}; "
                                       f"{'; '.join(status['notes'])}")
    os.write(status_fd, (json.dumps(status) + "\n").encode())
    os.close(status_fd)
    child = os.fork()
    if child == 0:
        try:
            os.chdir(cfg["cwd"])
        except OSError as exc:
            sys.stderr.write(f"sandbox: cannot enter {cfg['cwd']}: {exc.strerror}\n")
            os._exit(127)
        try:
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
        for entry in os.listdir("/proc") if os.path.isdir("/proc/self") else []:
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
              "unprivileged": False, "uid": None, "landlock": "", "notes": []}
    if cfg.get("cgroup_procs"):
        try:
            _write(cfg["cgroup_procs"], str(os.getpid()))
            status["cgroup"] = True
        except OSError as exc:
            status["notes"].append(f"could not join the pids cgroup ({exc.strerror})")
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of the command stay ours to kill
    userns_fd = None
    if os.getuid() == 0 and cfg.get("shared") and cfg["isolate"].get("filesystem"):
        try:
            userns_fd = root_as_nobody_userns()
        except OSError as exc:
            status["notes"].append(f"shared paths shown as is ({exc.strerror})")
    enter_namespaces(cfg, status)
    if not status["pid"]:
        run_init(cfg, status_fd, status, userns_fd)
    init = os.fork()  # the first child after unshare(CLONE_NEWPID) is PID 1 of the new namespace
    if init == 0:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        run_init(cfg, status_fd, status, userns_fd)
    os.close(status_fd)
    if userns_fd is not None:
        os.close(userns_fd)
    while True:
        try:
            pid, code = os.waitpid(init, 0)
            break
        except InterruptedError:
            continue
    sys.exit(os.waitstatus_to_exitcode(code) if os.WIFEXITED(code) else 128 + os.WTERMSIG(code))


if __name__ == "__main__":
    main()
