"""``python -m benchmarks._alisdk URL SIZE ROBOT_CODE``: the official SDK's robot batchSend.

Runs in an interpreter that has ``alibabacloud-dingtalk`` installed (it is not a dependency
of dingnotify: ``pip install alibabacloud-dingtalk`` in a separate venv, then pass its
``python`` to the harness with ``--alisdk-python``). It imports only the standard library
and that SDK. The SDK's endpoint is ``Config(endpoint="127.0.0.1:PORT", protocol="http")``;
its async methods (``*_async``) are used with a semaphore of 16, like the other contenders.
Prints one JSON line like ``_worker``.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any
from urllib.parse import urlsplit

# Imported before the CPU clock starts, like dingnotify in ``_worker``.
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models  # type: ignore
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient  # type: ignore
from alibabacloud_dingtalk.robot_1_0 import models as robot_models  # type: ignore
from alibabacloud_dingtalk.robot_1_0.client import Client as RobotClient  # type: ignore
from alibabacloud_tea_openapi import models as open_api_models  # type: ignore
from alibabacloud_tea_util import models as util_models  # type: ignore

APP_KEY, APP_SECRET = "dingemuappkey", "emu-secret-do-not-log"
CONCURRENCY = 16
PER_CALL = 20
PARAM = json.dumps({"content": "Benchmark notice: all-hands on Friday at 15:00."})


async def run(url: str, n: int, robot_code: str) -> dict[str, Any]:
    host = urlsplit(url).netloc
    if not host.startswith("127.0.0.1:"):
        raise SystemExit("loopback only")
    ids = [f"u{i:06d}" for i in range(1, n + 1)]
    batches = [ids[i : i + PER_CALL] for i in range(0, n, PER_CALL)]
    started = time.perf_counter()
    config = open_api_models.Config(endpoint=host, protocol="http")
    token_answer = await OAuthClient(config).get_access_token_async(
        oauth_models.GetAccessTokenRequest(app_key=APP_KEY, app_secret=APP_SECRET))
    token = token_answer.body.access_token
    robot = RobotClient(open_api_models.Config(endpoint=host, protocol="http"))
    headers = robot_models.BatchSendOTOHeaders(x_acs_dingtalk_access_token=token)
    runtime = util_models.RuntimeOptions()
    sem = asyncio.Semaphore(CONCURRENCY)
    sent = 0

    async def one(batch: list[str]) -> None:
        nonlocal sent
        request = robot_models.BatchSendOTORequest(msg_key="sampleText", msg_param=PARAM,
                                                   robot_code=robot_code, user_ids=batch)
        async with sem:
            answer = await robot.batch_send_otowith_options_async(request, headers, runtime)
        if not answer.body.process_query_key:
            raise RuntimeError(f"no processQueryKey: {answer.body}")
        sent += len(batch) - len(answer.body.invalid_staff_id_list or [])

    await asyncio.gather(*(one(b) for b in batches))
    return {"wall": time.perf_counter() - started, "requests": len(batches) + 1,
            "recipients": sent}


def main() -> None:
    url, size, robot_code = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = asyncio.run(run(url, size, robot_code))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["rss_mb"] = after.ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    main()
