from django.urls import path

app_name = "labs"
urlpatterns = []
