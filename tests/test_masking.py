"""The four maskers and the Redis host line (``rcsqualify/masking.py``): each keeps the
one guarantee its docstring states (issue #24: they lived in four modules)."""

from __future__ import annotations

import pytest

from rcsqualify.errors import ConfigurationError
from rcsqualify.masking import (
    mask_name,
    mask_redis_url,
    mask_secrets,
    mask_url,
    mask_url_passwords,
    redis_host,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9abcdefghijklmnop"  # 36 url-safe characters


@pytest.mark.parametrize("url, shown", [
    ("https://user:pw@hlr.example:8443/v2/PhoneNumbers/+33612345678?Fields=x&t=" + TOKEN,
     "https://hlr.example:8443/v2/PhoneNumbers/<number>"),
    ("http://x/lookup/%2B33612345678#frag", "http://x/lookup/<number>"),
    ("https://api.example/v1/bots/12345/messages", "https://api.example/v1/bots/12345/messages"),
])
def test_mask_url_keeps_scheme_host_port_path_only_and_masks_numbers(url: str,
                                                                      shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_url_is_printable_and_bounded() -> None:
    shown = mask_url("https://h.example/" + "a\x1b[2J" * 100)
    assert "\x1b" not in shown and len(shown) <= 160


@pytest.mark.parametrize("url, host, masked", [
    ("redis://bob:s3cret@cache.example:6380/2", "cache.example:6380/2",
     "redis://bob:***@cache.example:6380/2"),
    ("rediss://:s3cret@cache.example", "cache.example:6379",
     "rediss://***@cache.example:6379"),
    ("redis://localhost/", "localhost:6379", "redis://localhost:6379"),
    ("redis://b%40b:p%40ss@h:1/0", "h:1/0", "redis://b@b:***@h:1/0"),
])
def test_redis_urls_never_show_the_password(url: str, host: str, masked: str) -> None:
    assert redis_host(url) == host
    assert mask_redis_url(url) == masked
    assert "s3cret" not in redis_host(url) + mask_redis_url(url)


@pytest.mark.parametrize("url", ["redis://bob:s3cret@h:99999/0", "redis://bob:s3cret@[::1:1"])
def test_a_redis_url_that_does_not_parse_is_refused_quoting_none_of_it(url: str) -> None:
    for mask in (redis_host, mask_redis_url):
        with pytest.raises(ConfigurationError) as err:
            mask(url)
        assert "s3cret" not in str(err.value) and "bob" not in str(err.value)


@pytest.mark.parametrize("text, masked", [
    ("cannot open http://bob:s3cr@tpw@/x here", "cannot open http://bob:***@/x here"),
    ("redis://u:p@h:1 and ftp:/a:b@c", "redis://u:***@h:1 and ftp:/a:***@c"),
    ("no URL, nothing@masked: 06 12 34 56 78", "no URL, nothing@masked: 06 12 34 56 78"),
])
def test_mask_url_passwords_masks_every_password_whole_and_nothing_else(
        text: str, masked: str) -> None:
    assert mask_url_passwords(text) == masked


@pytest.mark.parametrize("text, masked", [
    ("unknown number +33 6 12 34 56 78", "unknown number <number>"),
    ("lookup 0033612345678 failed", "lookup <number> failed"),
    ("(06) 12.34.56.78 and %2B33612345678", "<number> and <number>"),
    (f"token {TOKEN} refused", "token <redacted> refused"),
    ("HTTP 404 job 12345 not found", "HTTP 404 job 12345 not found"),
])
def test_mask_secrets_masks_written_numbers_and_tokens(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


@pytest.mark.parametrize(("name", "shown"), [
    ("0612345678.csv", "<number>.csv"),
    ("06 12 34 56 78.xlsx", "<number>.xlsx"),
    ("06.12.34.56.78-relance.csv", "<number>-relance.csv"),
    ("+33612345678.csv", "<number>.csv"),
    ("0033612345678.csv", "<number>.csv"),
    ("33612345678.csv", "<number>.csv"),
    ("client 0612345678 et 0712345678.csv", "client <number> et <number>.csv"),
    # dates, time stamps and long ids are not numbers: the name stays recognizable
    ("contacts_20261207.csv", "contacts_20261207.csv"),
    ("base-2026-12-07_0300.csv", "base-2026-12-07_0300.csv"),
    ("export_2026120703.csv", "export_2026120703.csv"),
    ("lot_106123456789.csv", "lot_106123456789.csv"),
    ("clients.csv", "clients.csv"),
])
def test_mask_name_masks_french_numbers_and_keeps_the_rest(name: str, shown: str) -> None:
    assert mask_name(name) == shown
