"""Live grading progress: the submission page listens here (htmx ws extension) and receives
HTML fragments that it swaps in by id."""
from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .models import Submission
from .services import QUEUE_GROUP, group_name, status_html


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
        self.submission_id = sid
        await self.channel_layer.group_add(self.group, self.channel_name)
        # While it waits, its place in line is shown again whenever the line moves.
        await self.channel_layer.group_add(QUEUE_GROUP, self.channel_name)
        self.staff = user.is_staff
        await self.accept()
        # What happened between the page's rendering and this connection (the grading started,
        # or even ended) was sent to nobody: the page gets the submission as it is now.
        await self.send(text_data=await database_sync_to_async(self._current)())

    async def grading_progress(self, event: dict) -> None:
        await self.send(text_data=event["html"])

    async def queue_moved(self, event: dict) -> None:
        """Another grading started: send this submission's status with its new place in line
        (nothing once it is no longer queued; its own progress messages say the rest)."""
        html = await database_sync_to_async(self._queued_status)()
        if html:
            await self.send(text_data=html)

    def _current(self) -> str:
        sub = Submission.objects.get(pk=self.submission_id)
        return status_html(sub, staff=self.staff)

    def _queued_status(self) -> str:
        sub = Submission.objects.filter(pk=self.submission_id).first()
        if sub is None or sub.status != Submission.Status.QUEUED:
            return ""
        return status_html(sub, staff=self.staff)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(QUEUE_GROUP, self.channel_name)
