#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Writes the scheduler benchmark job: one gather of N sleep tasks of one
# second each. No ids, so corun generates them ("all.1", "all.2", ...) as a
# large real job would, and the file stays small enough to stream.
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen.py N OUT.json")
    n, path = int(sys.argv[1]), sys.argv[2]
    task = '{"kind":"sleep","seconds":1}'
    with open(path, "w") as f:
        f.write('{"corun":1,"name":"sched-%d","tasks":[\n' % n)
        f.write('{"id":"all","kind":"gather","tasks":[\n')
        # One task per line: readable diagnostics if the loader ever fails.
        f.write(",\n".join([task] * n))
        f.write("\n]}]}\n")


if __name__ == "__main__":
    main()
