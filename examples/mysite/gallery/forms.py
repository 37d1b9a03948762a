from django import forms

from .models import Job, Note, Photo


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


class JobForm(forms.ModelForm):
    seconds = forms.FloatField(min_value=0, max_value=3600, required=False)

    class Meta:
        model = Job
        fields = ["seconds", "fail"]

    def clean_seconds(self):
        return self.cleaned_data["seconds"] or 0
