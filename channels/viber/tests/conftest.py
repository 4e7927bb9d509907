import pytest

from channels.viber import adapter


@pytest.fixture(autouse=True)
def fresh_sender_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test asks get_account_info for the bot's name afresh (the adapter remembers it for an hour)."""
    monkeypatch.setattr(adapter, "_sender_names", {})
