#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The Python side of the pipeline benchmark: one producer puts the ints of
# range(N) into an asyncio.Queue(maxsize=Q), one consumer gets them. This
# is the peer of corun's one-stage pipeline over {"range": [0, N]} with
# "queue": Q, minus the no-op task per item (the consumer does nothing
# with an item; corun runs a "sleep" 0 task on it).
#
# Usage: asyncio_queue.py N [Q]   (Q defaults to 1000)
# Prints one line: items per second by this process's own clock, from
# just before the queue is made to the last get (interpreter start-up and
# exit not included; run.sh measures the whole process as well).
import asyncio
import sys
import time


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q, n):
    total = 0
    for _ in range(n):
        total += await q.get()
    return total


async def main(n, maxsize):
    q = asyncio.Queue(maxsize)
    got = await asyncio.gather(producer(q, n), consumer(q, n))
    # Every item arrived once: 0 + 1 + ... + (n - 1).
    assert got[1] == n * (n - 1) // 2, got[1]


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: asyncio_queue.py N [Q]")
    n = int(sys.argv[1])
    maxsize = int(sys.argv[2]) if len(sys.argv) == 3 else 1000
    t0 = time.perf_counter()
    asyncio.run(main(n, maxsize))
    t1 = time.perf_counter()
    print("%.1f" % (n / (t1 - t0)))
