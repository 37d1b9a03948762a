from django import forms

from .models import Note, Photo


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ["text"]


class PhotoForm(forms.ModelForm):
    # The model's ImageField gives a forms.ImageField, which opens the upload
    # with Pillow and rejects anything that is not a readable image.
    class Meta:
        model = Photo
        fields = ["image"]
