#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# The Python side of the scheduler benchmark: what the corun job says,
# written as asyncio. gather() wraps each coroutine in a Task, as corun
# makes each sleep a task of its own.
import asyncio
import sys


async def main(n):
    await asyncio.gather(*[asyncio.sleep(1) for _ in range(n)])


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
