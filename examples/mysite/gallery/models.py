from django.db import models


class Note(models.Model):
    text = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # "-id" breaks ties between notes created within the same instant.
        ordering = ["-created", "-id"]
        # The home page lists the newest notes: read backwards along this index, not a sort of the
        # whole table, which grows slower with every note (the soak's latency climbed without it).
        indexes = [models.Index(fields=["created", "id"], name="gallery_note_newest")]

    def __str__(self):
        return self.text


class Photo(models.Model):
    image = models.ImageField(upload_to="photos/")
    # Made in the background after the upload (tasks.make_thumbnail): empty until a worker ran it.
    thumbnail = models.ImageField(upload_to="thumbnails/", blank=True)
    uploaded = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded", "-id"]

    def __str__(self):
        return self.image.name


class Job(models.Model):
    """Work asked for through /api/jobs/ and done by a worker (tasks.run_job): it takes `seconds`,
    then finishes, or fails when asked to. Delivery is at least once: a job whose worker died while
    it ran starts again, and `starts` counts how often it did."""

    seconds = models.FloatField(default=0)
    fail = models.BooleanField(default=False)
    queued = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)  # its latest start
    starts = models.PositiveIntegerField(default=0)
    finished = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=200, blank=True)

    @property
    def state(self):
        if self.error:
            return "failed"
        if self.finished:
            return "finished"
        return "running" if self.started else "queued"


class Heartbeat(models.Model):
    """One run of the periodic job (tasks.heartbeat, sent by beat on CELERY_BEAT_SCHEDULE)."""

    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
