"""``make screenshot``: the dashboard as a user sees it, for the README (docs/dashboard.png).

It runs what the README's walk-through runs, on servers of its own: a Redis, moto's S3, and the
local API; a few visitors' hits today (of the site counter and of four pages, some through a
referring site), then an import of a generated week of access logs
(signed, as an operator calls it), then headless Chromium's picture of ``/dashboard``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from devtools import browser
from devtools.accesslogs import generate
from localapi import sigv4
from localapi import template as sam_template
from localapi.server import LOCAL_CREDENTIALS, LocalApi, Server
from localapi.services import LocalS3, RedisServer, wait_for

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "dashboard.png"
BUCKET = "hit-counter-dev-imports-123456789012-us-east-1"


def _call(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        data: bytes = response.read()
        return data


def main(output: Path = OUTPUT) -> None:
    redis_server, s3 = RedisServer().start(), LocalS3().start()
    scratch = Path(tempfile.mkdtemp(prefix="hitcounter-screenshot-"))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    s3.client().create_bucket(Bucket=BUCKET)
    log = generate(6000, seed=21, days=(today - timedelta(seconds=1), 10))
    s3.client().put_object(Bucket=BUCKET, Key="logs/last-10-days.log.gz", Body=log.gzipped())
    env = {"REDIS_URL": redis_server.url, "SCRATCH_DIR": str(scratch), **s3.env}
    api = Server(LocalApi(sam_template.load(ROOT / "template.yaml"), {"Parameters": env})).start()
    try:
        for i in range(40):  # today's visitors of the site counter
            _call(f"{api.url}/", headers={"User-Agent": f"visitor-{i % 17}"})
        sources = ["https://news.ycombinator.com/item?id=1", "https://lobste.rs/s/abc", "", ""]
        for i, path in enumerate(["/", "/2024/05/hello-world/", "/about/", "/2024/06/notes/"] * 6):
            came_from = sources[i % len(sources)]
            query = f"path={quote(path, safe='')}" + (f"&r={quote(came_from, safe='')}" if came_from else "")
            agent = f"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.{i}"
            _call(f"{api.url}/count?{query}", headers={"User-Agent": agent, "Accept-Language": "en"})
        body = json.dumps({"key": "logs/last-10-days.log.gz"}).encode()
        headers = sigv4.sign(
            "POST",
            f"{api.url}/imports",
            {"Content-Type": "application/json"},
            body,
            LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        accepted = json.loads(_call(f"{api.url}/imports", "POST", body, headers))
        location = f"{api.url}/imports/{accepted['id']}"

        def done() -> bool:
            signed = sigv4.sign(
                "GET",
                location,
                {},
                b"",
                LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            return bool(json.loads(_call(location, headers=signed))["state"] == "done")

        wait_for(done, timeout=60, what="the import")
        output.parent.mkdir(parents=True, exist_ok=True)
        browser.screenshot(f"{api.url}/dashboard?period=30d", output)
        shown = output.relative_to(ROOT) if output.is_relative_to(ROOT) else output
        print(f"wrote {shown} ({output.stat().st_size} bytes)")
    finally:
        api.stop()
        s3.stop()
        redis_server.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT)
