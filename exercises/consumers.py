"""Live grading progress: the submission page listens here (htmx ws extension) and receives
HTML fragments that it swaps in by id."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .models import Submission
from .services import group_name


class SubmissionProgressConsumer(AsyncWebsocketConsumer):
    """``/ws/submissions/<id>/``: only the submission's owner (or staff) may listen; learners
    never receive fragments of hidden checks."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        sid = self.scope["url_route"]["kwargs"]["submission_id"]
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        allowed = await database_sync_to_async(
            lambda: Submission.objects.filter(pk=sid).filter(
                **({} if user.is_staff else {"user": user})).exists()
        )()
        if not allowed:
            await self.close(code=4403)
            return
        # Staff listen on their own group, which also carries the rows of hidden checks.
        self.group = group_name(sid, staff=user.is_staff)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def grading_progress(self, event: dict) -> None:
        await self.send(text_data=event["html"])

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
