"""Optional chat notification: a Slack-compatible incoming webhook (`{"text": ...}`), whose URL
comes from ML_NOTIFY_WEBHOOK_URL (set it from a secret). A failed notification never fails the
job, and the URL, a credential in itself, never appears in a log line."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

WEBHOOK_ENV = "ML_NOTIFY_WEBHOOK_URL"
TIMEOUT_SECONDS = 10
RETRIES = 3  # on 429 and 5xx, with 0, 1, 2 s between attempts


def notify(text: str) -> bool:
    """Post `text` when a webhook is configured; True if the hook accepted it."""
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return False
    if not url.startswith(("https://", "http://")):
        log.warning("%s is not an http(s) URL: no notification sent", WEBHOOK_ENV)
        return False
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3 import Retry

    retry = Retry(
        total=RETRIES,
        backoff_factor=0.5,
        status_forcelist=[429, 500, 502, 503, 504],
        allowed_methods={"POST"},
        raise_on_status=False,
    )
    with requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        session.mount("https://", HTTPAdapter(max_retries=retry))
        try:
            response = session.post(url, json={"text": text}, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            log.warning("Notification webhook unreachable (%s)", type(exc).__name__)
            return False
    if response.status_code >= 300:
        log.warning("Notification webhook answered %d: not sent", response.status_code)
        return False
    log.info("Notification sent to the webhook")
    return True
