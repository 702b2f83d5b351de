from django.urls import path

from . import views

app_name = "exercises"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:assignment_id>/", views.detail, name="detail"),
    path("submissions/<int:submission_id>/", views.submission, name="submission"),
]
