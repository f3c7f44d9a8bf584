"""Landlock (Linux >= 5.13): an unprivileged allow-list of paths, kept across exec. Standard library only.

Used by the sandbox launcher as a second wall behind the private mount view, and as the only wall
for files where no mount namespace is available. :func:`restrict` allows reading (and executing)
``read`` paths and everything under ``write`` paths; any other path is refused by the kernel. From
ABI 6 it also stops signals to, and abstract Unix sockets of, processes outside the sandbox; with
``block_tcp`` (no network namespace) it refuses every TCP bind and connect.
"""

import ctypes
import os

SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446  # same on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # the rights a rule on a file may hold

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is missing or disabled."""
    version = _libc.syscall(ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                            ctypes.c_uint32(CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _handled_fs(version: int) -> int:
    rights = (1 << 13) - 1  # ABI 1: execute .. make_sym
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def _fail(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"landlock {what}: {os.strerror(err)}")


def restrict(read: list[str], write: list[str], *, listable: tuple[str, ...] = (), block_tcp: bool) -> str:
    """Confine this process (and its future children) to the given paths; returns what was enforced.

    ``read`` paths can be read and executed, ``write`` paths fully used, folders under ``listable``
    only listed.
    Needs no_new_privs (or CAP_SYS_ADMIN). Paths that do not exist are skipped. Raises OSError when
    the kernel refuses.
    """
    version = abi()
    if version < 1:
        raise OSError(0, "Landlock is not available in this kernel")
    handled = _handled_fs(version)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if version >= 4:
        size = 16
        attr.handled_access_net = (NET_BIND_TCP | NET_CONNECT_TCP) if block_tcp else 0
    if version >= 6:
        size = 24
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    fd = _libc.syscall(ctypes.c_long(SYS_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
    if fd < 0:
        raise _fail("create_ruleset")
    try:
        readonly = handled & (EXECUTE | READ_FILE | READ_DIR)
        for paths, rights in ((listable, READ_DIR), (read, readonly), (write, handled)):
            for path in paths:
                try:
                    target = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights if os.path.isdir(path) else rights & FILE_RIGHTS
                    rule = _PathBeneath(allowed, target)
                    if _libc.syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(fd), ctypes.c_int(RULE_PATH_BENEATH),
                                     ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                        raise _fail(f"add_rule {path}")
                finally:
                    os.close(target)
        if _libc.syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise _fail("restrict_self")
    finally:
        os.close(fd)
    what = f"Landlock ABI {version}: paths allow-listed"
    if version >= 6:
        what += ", no signals or abstract sockets beyond the sandbox"
    if block_tcp and version >= 4:
        what += ", no TCP"
    return what
