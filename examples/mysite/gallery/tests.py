import io
import shutil
import tempfile
from unittest import mock

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from PIL import Image

from mysite.celery import app as celery_app

from . import tasks
from .models import Heartbeat, Job, Note, Photo
from .views import CACHE_DEMO_KEY

# Uploads go to a throwaway directory, never into the project's media/.
MEDIA_ROOT = tempfile.mkdtemp(prefix="mysite-test-media-")


def png_upload(name="dot.png", size=(4, 3)):
    buf = io.BytesIO()
    Image.new("RGB", size, "teal").save(buf, format="PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


@override_settings(MEDIA_ROOT=MEDIA_ROOT)
class GalleryTests(TestCase):
    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(MEDIA_ROOT, ignore_errors=True)

    def setUp(self):
        # The cache outlives each test's database rollback.
        cache.clear()

    # Home page

    def test_home_lists_notes_and_photos(self):
        Note.objects.create(text="hello <world>")
        photo = Photo.objects.create(image=png_upload())
        response = self.client.get("/")
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "gallery/home.html")
        self.assertTemplateUsed(response, "gallery/base.html")
        self.assertContains(response, "hello &lt;world&gt;")
        self.assertContains(response, '<link rel="stylesheet" href="/static/gallery/site.css">')
        self.assertContains(response, f'<img src="{photo.image.url}"')
        self.assertTrue(photo.image.url.startswith("/media/photos/"))

    def test_home_shows_latest_20_notes(self):
        Note.objects.bulk_create(Note(text=f"note {i:02d}") for i in range(25))
        response = self.client.get("/")
        self.assertEqual(len(response.context["notes"]), 20)

    # Notes API

    def test_create_note_from_form(self):
        response = self.client.post("/api/notes/", {"text": "from a form"})
        self.assertEqual(response.status_code, 201)
        note = Note.objects.get()
        self.assertEqual(response.json(), {"id": note.id, "text": "from a form"})

    def test_create_note_from_json(self):
        response = self.client.post(
            "/api/notes/", {"text": "from JSON"}, content_type="application/json"
        )
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["text"], "from JSON")
        self.assertEqual(Note.objects.get().text, "from JSON")

    def test_create_note_rejects_bad_input(self):
        cases = [
            ({}, None),
            ({"text": ""}, None),
            ({"text": "   "}, None),
            ({"text": "x" * 201}, None),
            ({"text": "x" * 201}, "application/json"),
            ({}, "application/json"),
        ]
        for data, content_type in cases:
            with self.subTest(data=data, content_type=content_type):
                kwargs = {"content_type": content_type} if content_type else {}
                response = self.client.post("/api/notes/", data, **kwargs)
                self.assertEqual(response.status_code, 400)
                self.assertIn("text", response.json()["errors"])
        for body in ["{not json", "[1, 2]"]:
            with self.subTest(body=body):
                response = self.client.post(
                    "/api/notes/", body, content_type="application/json"
                )
                self.assertEqual(response.status_code, 400)
                self.assertIn("error", response.json())
        self.assertFalse(Note.objects.exists())

    def test_note_of_exactly_200_chars_is_accepted(self):
        response = self.client.post("/api/notes/", {"text": "x" * 200})
        self.assertEqual(response.status_code, 201)

    def test_list_notes_newest_first(self):
        first = Note.objects.create(text="first")
        second = Note.objects.create(text="second")
        response = self.client.get("/api/notes/")
        self.assertEqual(response.status_code, 200)
        notes = response.json()["notes"]
        self.assertEqual([n["id"] for n in notes], [second.id, first.id])
        self.assertEqual(set(notes[0]), {"id", "text", "created"})
        self.assertEqual(notes[0]["created"], second.created.isoformat())

    def test_notes_rejects_other_methods(self):
        self.assertEqual(self.client.delete("/api/notes/").status_code, 405)

    # Photos API

    def test_upload_photo(self):
        upload = png_upload()
        response = self.client.post("/api/photos/", {"image": upload})
        self.assertEqual(response.status_code, 201)
        photo = Photo.objects.get()
        body = response.json()
        self.assertEqual(body["id"], photo.id)
        self.assertEqual(body["url"], photo.image.url)
        self.assertEqual(body["size"], upload.size)
        self.assertTrue(body["url"].startswith("/media/photos/"))

    def test_upload_rejects_non_image(self):
        fake = SimpleUploadedFile("evil.png", b"not an image", content_type="image/png")
        response = self.client.post("/api/photos/", {"image": fake})
        self.assertEqual(response.status_code, 400)
        self.assertIn("image", response.json()["errors"])
        self.assertFalse(Photo.objects.exists())

    def test_upload_rejects_missing_file(self):
        response = self.client.post("/api/photos/", {})
        self.assertEqual(response.status_code, 400)
        self.assertIn("image", response.json()["errors"])

    def test_list_photos(self):
        photo = Photo.objects.create(image=png_upload())
        response = self.client.get("/api/photos/")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(), {"photos": [{"id": photo.id, "url": photo.image.url}]}
        )

    # Caching

    def test_cached_flips_to_hit(self):
        Note.objects.create(text="counted")
        first = self.client.get("/api/cached/").json()
        self.assertFalse(first["hit"])
        self.assertEqual(first["value"]["notes"], 1)
        self.assertIn("computed_at", first["value"])

        Note.objects.create(text="not counted: the value is cached")
        second = self.client.get("/api/cached/").json()
        self.assertEqual(second, {"hit": True, "value": first["value"]})
        self.assertEqual(cache.get(CACHE_DEMO_KEY), first["value"])

    def test_cached_page_is_served_from_cache(self):
        first = self.client.get("/cached-page/")
        self.assertEqual(first.status_code, 200)
        self.assertIn("max-age=60", first["Cache-Control"])
        second = self.client.get("/cached-page/")
        # Same bytes, timestamp included: the view did not run again.
        self.assertEqual(first.content, second.content)
        self.assertContains(second, 'id="rendered-at"')

    # Admin

    def test_admin_is_mounted(self):
        response = self.client.get("/admin/")
        self.assertRedirects(response, "/admin/login/?next=/admin/")


# Background tasks. No broker here: the tests run each task in this process, as the worker would,
# and stand in for the broker only where a view queues one.


@override_settings(MEDIA_ROOT=MEDIA_ROOT)
class TaskTests(TestCase):
    def test_upload_queues_its_thumbnail_once_saved(self):
        with mock.patch.object(tasks.make_thumbnail, "delay") as delay:
            with self.captureOnCommitCallbacks(execute=True):
                response = self.client.post("/api/photos/", {"image": png_upload()})
                delay.assert_not_called()  # not before the photo is committed
        self.assertEqual(response.status_code, 201)
        delay.assert_called_once_with(response.json()["id"])

    def test_thumbnail_is_made_once(self):
        photo = Photo.objects.create(image=png_upload(size=(640, 480)))
        self.assertIsNone(self.client.get(f"/api/photos/{photo.id}/").json()["thumbnail"])

        tasks.make_thumbnail(photo.id)
        photo.refresh_from_db()
        with Image.open(photo.thumbnail) as thumbnail:
            self.assertEqual((thumbnail.format, thumbnail.size), ("JPEG", (128, 96)))
        body = self.client.get(f"/api/photos/{photo.id}/").json()
        self.assertEqual(body["thumbnail"], photo.thumbnail.url)
        self.assertTrue(body["thumbnail"].startswith("/media/thumbnails/"))

        tasks.make_thumbnail(photo.id)  # delivered again: nothing new
        self.assertEqual(Photo.objects.get().thumbnail.name, photo.thumbnail.name)

    def test_missing_photo_is_404(self):
        self.assertEqual(self.client.get("/api/photos/999/").status_code, 404)

    def test_job_is_queued_then_runs_once(self):
        with mock.patch.object(tasks.run_job, "delay") as delay:
            with self.captureOnCommitCallbacks(execute=True):
                response = self.client.post(
                    "/api/jobs/", {"seconds": 0}, content_type="application/json"
                )
        self.assertEqual(response.status_code, 201)
        job = response.json()
        self.assertEqual((job["state"], job["starts"], job["started"]), ("queued", 0, None))
        delay.assert_called_once_with(job["id"])

        tasks.run_job(job["id"])
        tasks.run_job(job["id"])  # delivered again after it finished: nothing to do
        done = self.client.get(f"/api/jobs/{job['id']}/").json()
        self.assertEqual((done["state"], done["starts"]), ("finished", 1))
        self.assertLessEqual(done["queued"], done["started"])
        self.assertLessEqual(done["started"], done["finished"])

    def test_job_fails_only_when_asked(self):
        job = Job.objects.create(fail=True)
        with self.assertRaisesMessage(tasks.JobFailed, f"job {job.id} was asked to fail"):
            tasks.run_job(job.id)
        self.assertEqual(self.client.get(f"/api/jobs/{job.id}/").json()["state"], "failed")

    def test_jobs_rejects_bad_input(self):
        for seconds in [-1, 3601, "soon"]:
            with self.subTest(seconds=seconds):
                response = self.client.post("/api/jobs/", {"seconds": seconds})
                self.assertEqual(response.status_code, 400)
                self.assertIn("seconds", response.json()["errors"])
        self.assertFalse(Job.objects.exists())
        self.assertEqual(self.client.get("/api/jobs/1/").status_code, 404)

    def test_heartbeat_counts_its_runs(self):
        tasks.heartbeat()
        tasks.heartbeat()
        body = self.client.get("/api/heartbeats/").json()
        self.assertEqual(body["count"], 2)
        self.assertEqual(body["runs"], [h.at.isoformat() for h in Heartbeat.objects.all()])

    def test_beat_schedules_the_heartbeat(self):
        entry = settings.CELERY_BEAT_SCHEDULE["heartbeat"]
        self.assertIn(entry["task"], celery_app.tasks)
        self.assertGreater(entry["schedule"], 0)
