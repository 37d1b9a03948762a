from django.contrib import admin

from .models import Note, Photo


@admin.register(Note)
class NoteAdmin(admin.ModelAdmin):
    list_display = ["text", "created"]
    search_fields = ["text"]


@admin.register(Photo)
class PhotoAdmin(admin.ModelAdmin):
    list_display = ["image", "uploaded"]
