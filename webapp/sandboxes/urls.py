from django.urls import path

from . import views

app_name = "sandboxes"
urlpatterns = [path("reset/", views.reset, name="reset")]
