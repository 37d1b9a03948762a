import json

from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import cache_page
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import tasks
from .forms import JobForm, NoteForm, PhotoForm
from .models import Heartbeat, Job, Note, Photo

CACHE_DEMO_KEY = "mysite:cached-demo"
API_LIST_LIMIT = 1000


def home(request):
    return render(
        request,
        "gallery/home.html",
        {
            "notes": Note.objects.all()[:20],
            "photos": Photo.objects.all()[:20],
        },
    )


@cache_page(60)
def cached_page(request):
    # Rendered once a minute at most; the timestamp shows when that happened.
    return render(request, "gallery/cached_page.html", {"now": timezone.now()})


def _posted(request):
    """The POSTed fields, from a form or a JSON object; or the 400 answer saying what is wrong."""
    if request.content_type != "application/json":
        return request.POST
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "invalid JSON body"}, status=400)
    if not isinstance(data, dict):
        return JsonResponse({"error": "expected a JSON object"}, status=400)
    return data


def _form_error(form):
    return JsonResponse(
        {"error": "invalid input", "errors": form.errors.get_json_data()},
        status=400,
    )


# The JSON API is called by scripts and tests without a browser session, so
# there is no CSRF cookie to send back: exempt these views from the CSRF check.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def notes(request):
    if request.method == "GET":
        return JsonResponse(
            {
                "notes": [
                    {"id": n.id, "text": n.text, "created": n.created.isoformat()}
                    for n in Note.objects.all()[:API_LIST_LIMIT]
                ]
            }
        )

    data = _posted(request)
    if isinstance(data, JsonResponse):
        return data
    form = NoteForm(data)
    if not form.is_valid():
        return _form_error(form)
    note = form.save()
    return JsonResponse({"id": note.id, "text": note.text}, status=201)


@csrf_exempt  # see notes() above
@require_http_methods(["GET", "POST"])
def photos(request):
    if request.method == "GET":
        return JsonResponse(
            {
                "photos": [
                    {"id": p.id, "url": p.image.url}
                    for p in Photo.objects.all()[:API_LIST_LIMIT]
                ]
            }
        )

    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_error(form)
    photo = form.save()
    # Queued once the photo is in the database, so the worker finds it (with ATOMIC_REQUESTS or
    # inside transaction.atomic(), that is when the view's transaction commits).
    tasks.make_thumbnail.delay_on_commit(photo.pk)
    return JsonResponse(
        {"id": photo.id, "url": photo.image.url, "size": photo.image.size},
        status=201,
    )


@require_GET
def photo(request, pk):
    """One photo, and its thumbnail once the worker has made it (null until then)."""
    photo = get_object_or_404(Photo, pk=pk)
    thumbnail = photo.thumbnail.url if photo.thumbnail else None
    return JsonResponse({"id": photo.id, "url": photo.image.url, "thumbnail": thumbnail})


@csrf_exempt  # see notes() above
@require_http_methods(["POST"])
def jobs(request):
    """Queue a job: {"seconds": how long it takes, "fail": whether it should fail}."""
    data = _posted(request)
    if isinstance(data, JsonResponse):
        return data
    form = JobForm(data)
    if not form.is_valid():
        return _form_error(form)
    job = form.save()
    tasks.run_job.delay_on_commit(job.pk)
    return JsonResponse(_job_json(job), status=201)


@require_GET
def job(request, pk):
    return JsonResponse(_job_json(get_object_or_404(Job, pk=pk)))


def _job_json(job):
    def when(moment):
        return moment.isoformat() if moment else None

    return {
        "id": job.id,
        "seconds": job.seconds,
        "fail": job.fail,
        "state": job.state,
        "queued": when(job.queued),
        "started": when(job.started),
        "starts": job.starts,
        "finished": when(job.finished),
    }


@require_GET
def heartbeats(request):
    """The periodic job's runs: how many, and when the latest ones were (newest first)."""
    return JsonResponse(
        {
            "count": Heartbeat.objects.count(),
            "runs": [h.at.isoformat() for h in Heartbeat.objects.all()[:API_LIST_LIMIT]],
        }
    )


@require_GET
def cached(request):
    """Demonstrate the low-level cache API: compute once, then serve from cache."""
    value = cache.get(CACHE_DEMO_KEY)
    if value is not None:
        return JsonResponse({"hit": True, "value": value})
    value = {
        "computed_at": timezone.now().isoformat(),
        "notes": Note.objects.count(),
    }
    cache.set(CACHE_DEMO_KEY, value, timeout=300)
    return JsonResponse({"hit": False, "value": value})
