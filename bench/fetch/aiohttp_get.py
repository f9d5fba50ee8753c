#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The asyncio + aiohttp side of the fetch benchmark: N GETs of one URL with
# at most C in flight, the way a Python user would write "fetch them all
# concurrently and gather": one ClientSession (so connections are kept
# alive and reused, as corun and curl --parallel do), TCPConnector(limit=C)
# as the concurrency cap, asyncio.gather over N coroutines, each reading
# its whole body. Bodies are counted and dropped, not kept.
#
# Exits 1 if any response is not 200, so a broken run is never reported
# as a fast one; prints the total body bytes read.
import asyncio
import sys

import aiohttp


async def main(url, n, c):
    # limit=C caps connections, hence transfers in flight; limit_per_host
    # stays 0 (unlimited) since everything goes to one host anyway.
    # No timeout: the run is bounded by the benchmark, and aiohttp's
    # default 5-minute total would only hide a hang.
    conn = aiohttp.TCPConnector(limit=c)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:

        async def one():
            async with s.get(url) as r:
                body = await r.read()
                return r.status, len(body)

        res = await asyncio.gather(*(one() for _ in range(n)))
    bad = [r for r in res if r[0] != 200]
    if bad:
        sys.exit("aiohttp_get: %d of %d responses not 200 (first: %d)"
                 % (len(bad), n, bad[0][0]))
    return sum(r[1] for r in res)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: aiohttp_get.py URL N CONCURRENCY")
    total = asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    print(total)
