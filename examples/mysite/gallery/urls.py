from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("cached-page/", views.cached_page, name="cached-page"),
    path("api/notes/", views.notes, name="notes"),
    path("api/photos/", views.photos, name="photos"),
    path("api/photos/<int:pk>/", views.photo, name="photo"),
    path("api/jobs/", views.jobs, name="jobs"),
    path("api/jobs/<int:pk>/", views.job, name="job"),
    path("api/heartbeats/", views.heartbeats, name="heartbeats"),
    path("api/cached/", views.cached, name="cached"),
]
