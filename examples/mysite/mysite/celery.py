"""mysite's Celery application: `celery -A mysite worker` (and `beat`) load it from here.

It reads its settings from Django's, those whose names start with CELERY_ (see settings.py), and
finds the tasks in each installed app's tasks.py (gallery/tasks.py).
"""

import os

from celery import Celery

# For `celery` started by hand; the stack's containers name their settings module themselves.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

app = Celery("mysite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
