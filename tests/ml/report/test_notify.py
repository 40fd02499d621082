"""The optional Slack-compatible webhook, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import logging

from ml.report import notify
from tests.ml.conftest import Hook


def test_posts_slack_compatible_text(hook: Hook, monkeypatch) -> None:
    monkeypatch.setenv(notify.WEBHOOK_ENV, hook.url)
    assert notify.notify("✅ Success: gate passed") is True
    assert hook.bodies == [{"text": "✅ Success: gate passed"}]


def test_nothing_is_sent_without_a_url(hook: Hook, monkeypatch) -> None:
    monkeypatch.delenv(notify.WEBHOOK_ENV, raising=False)
    assert notify.notify("x") is False
    assert hook.bodies == []


def test_a_5xx_is_retried(hook: Hook, monkeypatch) -> None:
    monkeypatch.setenv(notify.WEBHOOK_ENV, hook.url)
    hook.statuses = [503]
    assert notify.notify("x") is True
    assert len(hook.bodies) == 2


def test_a_refusal_is_a_warning_that_never_shows_the_url(hook: Hook, monkeypatch, caplog) -> None:
    monkeypatch.setenv(notify.WEBHOOK_ENV, hook.url)
    hook.statuses = [404]
    with caplog.at_level(logging.WARNING):
        assert notify.notify("x") is False
    assert "answered 404" in caplog.text
    assert "secret" not in caplog.text


def test_an_unreachable_hook_does_not_raise(closed_port: int, monkeypatch, caplog) -> None:
    url = f"http://127.0.0.1:{closed_port}/hook"
    monkeypatch.setenv(notify.WEBHOOK_ENV, url)
    with caplog.at_level(logging.WARNING):
        assert notify.notify("x") is False
    assert "unreachable" in caplog.text and url not in caplog.text


def test_a_url_that_is_not_http_is_refused(monkeypatch, caplog) -> None:
    monkeypatch.setenv(notify.WEBHOOK_ENV, "file:///etc/passwd")
    with caplog.at_level(logging.WARNING):
        assert notify.notify("x") is False
    assert "not an http(s) URL" in caplog.text
