"""What one turn of a conversation receives and returns, independent of WeChat's wire format."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from bot.services import Services


@dataclass
class Incoming:
    """A guardian's message or event, already verified and parsed by `integrations.wechat`."""

    user_id: str  # the guardian's OpenID
    kind: str  # text | voice | image | location | link | video | event | other
    text: str = ""  # text content, or the voice recognition result
    event: str = ""  # subscribe | unsubscribe | click | view | scan | ... (lower case)
    event_key: str = ""  # menu key, QR scene (without the qrscene_ prefix) or view URL
    msg_id: str = ""  # WeChat MsgId, or "" for events
    create_time: int = 0
    media_id: str = ""
    pic_url: str = ""
    account: str = ""  # ToUserName: our account id

    @property
    def dedup_key(self) -> str:
        """WeChat retries reuse MsgId; events have none, so FromUserName+CreateTime identifies them. A
        MsgId is only unique for its sender: another guardian's message with the same MsgId (or one
        forged by the simulator) must not be answered with this guardian's cached reply."""
        if self.msg_id:
            return f"msg:{self.user_id}:{self.msg_id}"
        return f"evt:{self.user_id}:{self.create_time}:{self.event}"


@dataclass
class Article:
    title: str
    description: str
    url: str
    image: str = ""


@dataclass
class Reply:
    """What the bot says back. `text` is rendered as a WeChat text reply unless `article` is set."""

    text: str = ""
    article: Article | None = None
    # Coroutine functions `async def f(services) -> None` run after the HTTP reply has been sent
    # (payment orders, pre-review, WeChat API calls): slow work never delays the 5-second reply.
    followups: list[Any] = field(default_factory=list)


@dataclass
class Turn:
    """One message being handled: the guardian's session is loaded into `session` (a plain dict that
    handlers mutate; it is saved after the turn) and `services` gives access to every component."""

    incoming: Incoming
    session: dict[str, Any]
    services: "Services"
    now: dt.datetime
    followups: list[Any] = field(default_factory=list)
    # Set when this message was written down as the guardian's latest interaction (a follow, or the first
    # message in ten minutes): WeChat's 48-hour window restarts, so messages it refused can go now.
    interaction_recorded: bool = False
    handoff_recorded: bool = False  # this message opened or was added to a 转人工 request already

    @property
    def user_id(self) -> str:
        return self.incoming.user_id

    @property
    def text(self) -> str:
        return self.incoming.text
