"""Background work, run by a Celery worker (mysite/celery.py finds these tasks).

A task may be delivered more than once: when its worker dies while running it, the broker hands it
out again. So each task looks at what is already done before doing it, and running it twice does
no harm.
"""

import io
import time

from celery import shared_task
from django.core.files.base import ContentFile
from django.db.models import F
from django.utils import timezone
from PIL import Image

from .models import Heartbeat, Job, Photo

THUMBNAIL_SIZE = (128, 128)


class JobFailed(Exception):
    """A job that was asked to fail did."""


@shared_task
def make_thumbnail(photo_id):
    """A JPEG of at most THUMBNAIL_SIZE beside the uploaded photo."""
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None or photo.thumbnail:
        return  # deleted since the upload, or made by an earlier delivery
    with photo.image.open("rb"), Image.open(photo.image) as image:
        image.thumbnail(THUMBNAIL_SIZE)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=85)
    photo.thumbnail.save(f"{photo.pk}.jpg", ContentFile(out.getvalue()))  # saves the photo too


@shared_task
def run_job(job_id):
    """Take the job's time, then finish it, or fail if it was asked to."""
    job = Job.objects.get(pk=job_id)
    if job.finished or job.error:
        return  # a second delivery of a job that ran to its end
    Job.objects.filter(pk=job_id).update(started=timezone.now(), starts=F("starts") + 1)
    time.sleep(job.seconds)
    if job.fail:
        Job.objects.filter(pk=job_id).update(error="asked to fail")
        raise JobFailed(f"job {job_id} was asked to fail")
    Job.objects.filter(pk=job_id).update(finished=timezone.now())


@shared_task
def heartbeat():
    """The periodic job: one row per run, so runs can be counted."""
    Heartbeat.objects.create()
