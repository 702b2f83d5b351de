from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/labs/<slug:course_id>/<slug:lab_id>/terminal/",
         consumers.LabTerminalConsumer.as_asgi()),
]
