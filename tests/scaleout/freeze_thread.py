#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Freeze ONE thread of another process until SIGTERM/SIGINT (or exit).

    freeze_thread.py TID

SIGSTOP cannot do this: a stop signal stops every thread of the process
(telemetry included). PTRACE_SEIZE + PTRACE_INTERRUPT put only the given thread
into a ptrace-stop; the other threads run on. When this program ends, however
it ends, the kernel detaches and the thread resumes. Used by scaleout.py to
stall terelay's worker lcore while its control lcore and telemetry keep going.
"""
import ctypes
import os
import signal
import sys

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000


def main():
    tid = int(sys.argv[1])
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    for req in (PTRACE_SEIZE, PTRACE_INTERRUPT):
        if libc.ptrace(req, tid, None, None) != 0:
            e = ctypes.get_errno()
            print(f'freeze_thread: ptrace({req:#x}, {tid}): {os.strerror(e)}', file=sys.stderr)
            return 1
    os.waitpid(tid, WALL)
    print(f'freeze_thread: thread {tid} frozen', flush=True)
    done = []
    signal.signal(signal.SIGTERM, lambda s, f: done.append(s))
    signal.signal(signal.SIGINT, lambda s, f: done.append(s))
    while not done:
        signal.pause()
    libc.ptrace(PTRACE_DETACH, tid, None, None)
    print(f'freeze_thread: thread {tid} released', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
