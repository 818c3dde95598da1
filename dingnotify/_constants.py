"""Defaults and DingTalk limits, in one place so every module agrees on them."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
DEFAULT_TOP_URL = "https://eco.taobao.com/router/rest"

# asyncsend_v2 limits per call.
MAX_USERIDS_PER_CALL = 100
MAX_DEPT_IDS_PER_CALL = 20
MAX_MSG_BYTES = 2048

# Connection pool and timeouts.
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_KEEPALIVE_TIMEOUT = 30.0
DEFAULT_DNS_CACHE_TTL = 300

# Retries (RetryPolicy defaults).
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_BASE_DELAY = 0.5
DEFAULT_MAX_DELAY = 8.0

# Tokens: DingTalk issues 7200 s tokens; refresh a margin early so no call races expiry.
TOKEN_FALLBACK_TTL = 7200.0
TOKEN_REFRESH_MARGIN = 300.0

# Broadcast defaults.
DEFAULT_CONCURRENCY = 16
DEFAULT_POLL_INTERVAL = 1.0
# Resend rounds of recipients DingTalk's flow control held back (work notifications'
# ``throttled_userids``, the robot's ``flowControlledStaffIdList``), one default for every
# channel. The limits are per minute: a re-send in the same minute is held back again, so
# the rounds are spread over one: 3 rounds 20 s apart, the last going out a full minute
# after the first answer, when the window that held them back has slid past. The earlier
# rounds deliver to whoever the sliding window already lets through.
DEFAULT_RESEND_ROUNDS = 3
DEFAULT_RESEND_DELAY = 20.0

# oapi paths.
PATH_GETTOKEN = "/gettoken"
PATH_GET_BY_MOBILE = "/user/get_by_mobile"
PATH_GET_BY_MOBILE_V2 = "/topapi/v2/user/getbymobile"
PATH_ASYNCSEND = "/topapi/message/corpconversation/asyncsend_v2"
PATH_PROGRESS = "/topapi/message/corpconversation/getsendprogress"
PATH_RESULT = "/topapi/message/corpconversation/getsendresult"
PATH_RECALL = "/topapi/message/corpconversation/recall"
PATH_STATUS_BAR = "/topapi/message/corpconversation/status_bar/update"
PATH_MEDIA_UPLOAD = "/media/upload"
PATH_CROSSDOMAIN = "/topapi/dingtalk/impaas/message/crossdomain/send"

MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded;charset=UTF-8"

# A separate, larger budget for rate-limit answers: DingTalk did not process those calls.
DEFAULT_RATE_LIMIT_ATTEMPTS = 12
# No DingTalk answer is this large; a bigger body is refused unread.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# How long ``aclose`` lets calls already in flight finish before closing the pool.
DEFAULT_CLOSE_GRACE = 10.0
# DingTalk's per-IP ban lasts five minutes when its answer does not say how long.
IP_BAN_SECONDS = 300.0
# ``forbidden_list`` codes that mean "per-minute flow control": the recipient got nothing
# and a later send delivers. DingTalk does not publish the code per rule; 41047/41048 are
# its "messages per minute" codes. Configurable: DingTalkClient(flow_control_codes=...).
FLOW_CONTROL_CODES = frozenset({"41047", "41048"})
