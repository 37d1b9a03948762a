from django.urls import path

from . import views

app_name = "gallery"

urlpatterns = [
    path("", views.home, name="home"),
    path("cached-page/", views.cached_page, name="cached-page"),
    path("api/notes/", views.notes, name="notes"),
    path("api/photos/", views.photos, name="photos"),
    path("api/cached/", views.cached, name="cached"),
]
