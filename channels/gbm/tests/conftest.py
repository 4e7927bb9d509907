import pytest

from channels.gbm import oauth


@pytest.fixture(autouse=True)
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its access token afresh (the adapter keeps one per key until shortly before it expires)."""
    monkeypatch.setattr(oauth, "_tokens", {})
    monkeypatch.setattr(oauth, "_locks", {})
