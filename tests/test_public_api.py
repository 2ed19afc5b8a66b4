"""The public names of SPEC sections 2 and 3 are importable from the top level."""

import inspect

import fouryousee_data as fy
from fouryousee_data import errors

SPEC_NAMES = [
    "Client",
    "Report",
    "read_playlogs",
    "fetch_playlogs",
    "per_player",
    "per_media",
    "per_player_media",
    "FouryouseeError",
    "APIError",
    "AuthenticationError",
    "NotFoundError",
    "RateLimitError",
    "ReportFailedError",
    "ReportTimeoutError",
    "DownloadError",
    "CorruptReportError",
    "InvalidPlaylogError",
]


def test_spec_names_exported() -> None:
    missing = [name for name in SPEC_NAMES if not hasattr(fy, name)]
    assert missing == []
    assert set(SPEC_NAMES) <= set(fy.__all__)


def test_all_is_importable() -> None:
    for name in fy.__all__:
        assert hasattr(fy, name), name


def test_error_tree() -> None:
    assert issubclass(fy.AuthenticationError, fy.APIError)
    assert issubclass(fy.NotFoundError, fy.APIError)
    assert issubclass(fy.RateLimitError, fy.APIError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), fy.FouryouseeError)
        assert getattr(fy, name) is getattr(errors, name)


def test_fetch_playlogs_signature() -> None:
    params = inspect.signature(fy.fetch_playlogs).parameters
    for name in ("player_ids", "media_ids", "client", "cache_dir", "refresh", "settle"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["settle"].default == "24h"
    assert params["refresh"].default is False
    assert params["progress"].default is None
    assert params["tz"].default is None


def test_client_signature() -> None:
    params = inspect.signature(fy.Client).parameters
    assert list(params)[:1] == ["token"]
    assert params["timeout"].default == 30.0
    wait = inspect.signature(fy.Client.wait_for_report).parameters
    assert wait["timeout"].default == 3600.0
    assert wait["poll_interval"].default == 2.0
    assert wait["max_poll_interval"].default == 60.0


def test_public_functions_have_examples() -> None:
    for name in fy.__all__:
        obj = getattr(fy, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            doc = inspect.getdoc(obj) or ""
            assert doc, f"{name} has no docstring"
            if inspect.isfunction(obj):
                assert "Examples" in doc or ">>>" in doc, f"{name} has no example"
