from django.urls import path

from . import views

app_name = "labs"
urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:course_id>/<slug:lab_id>/", views.lab_detail, name="lab"),
    path("<slug:course_id>/<slug:lab_id>/steps/<slug:step_id>/check/", views.step_check,
         name="step_check"),
    path("<slug:course_id>/<slug:lab_id>/quiz/<slug:question_id>/", views.quiz_answer,
         name="quiz_answer"),
]
