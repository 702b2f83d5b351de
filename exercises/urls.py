from django.urls import path

from . import views

app_name = "exercises"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:assignment_id>/", views.detail, name="detail"),
    path("<slug:assignment_id>/workspace/", views.submit_workspace, name="submit_workspace"),
    path("<slug:assignment_id>/regrade/", views.regrade_all, name="regrade_all"),
    path("submissions/<int:submission_id>/", views.submission, name="submission"),
    path("submissions/<int:submission_id>/regrade/", views.regrade, name="regrade"),
]
