"""A stand-in for Kannel's smsbox sendsms, in its own process, logging each accepted SMS.

    python bench/sms_standin.py PORT LOG

Each accepted SMS appends "<monotonic seconds> <to>" to LOG (flushed at once, so a sender
killed mid-broadcast loses nothing of what the gateway already took).
"""

from __future__ import annotations

import sys
import time

from aiohttp import web


def main() -> None:
    port, path = int(sys.argv[1]), sys.argv[2]
    log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the process)

    async def sendsms(request: web.Request) -> web.Response:
        to = request.query.get("to", "")
        if not to or not request.query.get("text"):
            return web.Response(status=400, text="Missing receiver or text")
        log.write(f"{time.monotonic():.4f} {to}\n")
        return web.Response(status=202, text="0: Accepted for delivery")

    app = web.Application()
    app.router.add_get("/cgi-bin/sendsms", sendsms)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
