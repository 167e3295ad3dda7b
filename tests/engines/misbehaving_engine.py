#!/usr/bin/env python3
"""An engine that breaks the engine protocol on purpose, for sonic-server's tests: the
server must mark it crashed with the reason, keep its other engines serving, and leave no
zombie or pipe behind. The mode is the first argument:

  junk        prints a line that is not JSON on stdout (what an adapter that lets a library
              print on the protocol stream does)
  flood       writes an endless line on stdout
  old         announces protocol version 0
  exit        exits with code 7 before `ready`
  silent      never says anything (no `ready`), but stays alive
"""
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "junk"
sys.stderr.write("misbehaving engine: mode %s\n" % mode)
sys.stderr.flush()
if mode == "junk":
    sys.stdout.write("Loading checkpoint shards: 100%|##########| 3/3\n")
    sys.stdout.flush()
elif mode == "flood":
    chunk = "x" * 65536
    while True:
        sys.stdout.write(chunk)
        sys.stdout.flush()
elif mode == "old":
    sys.stdout.write('{"type": "ready", "protocol": 0, "name": "old", "version": "0"}\n')
    sys.stdout.flush()
elif mode == "exit":
    sys.exit(7)
for line in sys.stdin:  # then waits like an engine would, until the server closes stdin
    pass
