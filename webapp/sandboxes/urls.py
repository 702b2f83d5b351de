from django.urls import path

from . import views

app_name = "sandboxes"
urlpatterns = [
    path("reset/", views.reset, name="reset"),
    path("extend/", views.extend, name="extend"),
    path("classroom/", views.classroom, name="classroom"),
    path("classroom/<str:sandbox_id>/stop/", views.classroom_stop, name="classroom_stop"),
    path("preview/", views.preview_open, name="preview_open"),
    path("preview/<int:user_id>/<int:port>/<path:path>", views.preview, name="preview"),
    path("preview/<int:user_id>/<int:port>/", views.preview, name="preview_root"),
    path("p/<str:who>/<str:sig>/<path:path>", views.preview_by_link, name="preview_link"),
    path("p/<str:who>/<str:sig>/", views.preview_by_link, name="preview_link_root"),
]
