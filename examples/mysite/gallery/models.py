from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # "-id" breaks ties between notes created within the same instant.
        ordering = ["-created", "-id"]

    def __str__(self):
        return self.text


class Photo(models.Model):
    image = models.ImageField(upload_to="photos/")
    uploaded = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded", "-id"]

    def __str__(self):
        return self.image.name
