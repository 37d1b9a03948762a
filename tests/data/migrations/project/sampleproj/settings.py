"""A project with only migrations: the sample the breaking-migration tests plan against."""

import os

SECRET_KEY = "sample, not a secret"
INSTALLED_APPS = ["shop", "blog"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SAMPLE_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
