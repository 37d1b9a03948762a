"""Tracebacks and Django's request errors read out of web's log lines, as uWSGI and Django print them."""

from __future__ import annotations

from djstack.doctor.tracebacks import Frame, Raised, project_frame, raised_in, request_errors, template_name
from djstack.model import Paths

# The web image's virtualenv (Paths.venv) and project (Paths.app), as they appear in its frames.
SITE = f"{Paths().venv}/lib/python3.13/site-packages"
APP = Paths().app


def log(text: str) -> list[str]:
    """Lines as Facts.logs holds them: blank lines dropped, $SITE and $APP spelled out."""
    text = text.replace("$SITE", SITE).replace("$APP", APP)
    return [line for line in text.splitlines() if line.strip()]


def uwsgi_request(method: str, uri: str, status: int, pid: int = 14) -> str:
    return (f"[pid: {pid}|app: 0|req: 5/9] 172.18.0.4 () {{44 vars in 872 bytes}} [Tue Dec  1 21:14:20 2026] "
            f"{method} {uri} => generated 145 bytes in 18 msecs (HTTP/1.1 {status}) 7 headers in 254 bytes "
            f"(1 switches on core 0)")


# A view that divides by zero; djstack's LOGGING prefixes Django's message ("{asctime} {levelname} {name}: ").
VIEW_EXCEPTION = """
2026-12-01 21:14:20,123 ERROR django.request: Internal Server Error: /gallery/stats/
Traceback (most recent call last):
  File "$SITE/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "$SITE/django/core/handlers/base.py", line 197, in _get_response
    response = wrapped_callback(request, *callback_args, **callback_kwargs)
  File "$APP/gallery/views.py", line 31, in stats
    average = total / count
              ~~~~~~^~~~~~~
ZeroDivisionError: division by zero
"""

# {% load no_such_lib %}: Django raises while handling the KeyError of its library lookup, and the
# message goes on with the list of libraries, one a line. Django's own formatter: no prefix.
TEMPLATE_SYNTAX = """
Internal Server Error: /
Traceback (most recent call last):
  File "$SITE/django/template/defaulttags.py", line 1036, in find_library
    return parser.libraries[name]
           ~~~~~~~~~~~~~~~~^^^^^^
KeyError: 'no_such_lib'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "$SITE/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "$SITE/django/core/handlers/base.py", line 197, in _get_response
    response = wrapped_callback(request, *callback_args, **callback_kwargs)
  File "$APP/gallery/views.py", line 12, in index
    return render(request, "gallery/index.html", {"photos": photos})
  File "$SITE/django/shortcuts.py", line 25, in render
    content = loader.render_to_string(template_name, context, request, using=using)
  File "$SITE/django/template/loader.py", line 61, in render_to_string
    template = get_template(template_name, using=using)
  File "$SITE/django/template/defaulttags.py", line 1038, in find_library
    raise TemplateSyntaxError(
    ...<2 lines>...
    )
django.template.exceptions.TemplateSyntaxError: 'no_such_lib' is not a registered tag library. Must be one of:
admin_list
admin_modify
cache
i18n
static
tz
"""

# A TemplateView whose template is missing: none of the project's code is in the traceback.
TEMPLATE_MISSING = """
Internal Server Error: /about/
Traceback (most recent call last):
  File "$SITE/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "$SITE/django/core/handlers/base.py", line 220, in _get_response
    response = response.render()
  File "$SITE/django/template/response.py", line 90, in rendered_content
    template = self.resolve_template(self.template_name)
  File "$SITE/django/template/response.py", line 72, in resolve_template
    return select_template(template, using=self.using)
  File "$SITE/django/template/loader.py", line 47, in select_template
    raise TemplateDoesNotExist(", ".join(template_name_list), chain=chain)
django.template.exceptions.TemplateDoesNotExist: pages/about.html
"""

# The database name in .env changed after the volume was made: MySQLdb's error, re-raised by Django.
DB_ACCESS_CHAINED = """
Internal Server Error: /gallery/
Traceback (most recent call last):
  File "$SITE/django/db/backends/base/base.py", line 279, in ensure_connection
    self.connect()
    ~~~~~~~~~~~~^^
  File "$SITE/django/db/backends/mysql/base.py", line 256, in get_new_connection
    connection = Database.connect(**conn_params)
  File "$SITE/MySQLdb/connections.py", line 200, in __init__
    super().__init__(*args, **kwargs2)
    ~~~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^^
MySQLdb.OperationalError: (1044, "Access denied for user 'mysite'@'%' to database 'mysite_new'")

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "$SITE/django/core/handlers/exception.py", line 55, in inner
    response = get_response(request)
  File "$APP/gallery/views.py", line 9, in index
    for photo in Photo.objects.order_by("-created")[:20]:
  File "$SITE/django/db/utils.py", line 91, in __exit__
    raise dj_exc_value.with_traceback(traceback) from exc_value
  File "$SITE/django/db/backends/base/base.py", line 279, in ensure_connection
    self.connect()
django.db.utils.OperationalError: (1044, "Access denied for user 'mysite'@'%' to database 'mysite_new'")
"""

# uWSGI loads the WSGI module; settings import a package the image lacks.
STARTUP_IMPORT_ERROR = """
*** Operational MODE: preforking ***
Traceback (most recent call last):
  File "$APP/mysite/wsgi.py", line 16, in <module>
    application = get_wsgi_application()
  File "$SITE/django/conf/__init__.py", line 166, in __init__
    mod = importlib.import_module(self.SETTINGS_MODULE)
  File "/usr/local/lib/python3.13/importlib/__init__.py", line 88, in import_module
    return _bootstrap._gcd_import(name[level:], package, level)
           ~~~~~~~~~~~~~~~~~~~~~~^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "<frozen importlib._bootstrap>", line 1387, in _gcd_import
  File "<frozen importlib._bootstrap_external>", line 1026, in exec_module
  File "$APP/mysite/settings.py", line 14, in <module>
    import sentry_sdk
ModuleNotFoundError: No module named 'sentry_sdk'
unable to load app 0 (mountpoint='') (callable not found or import error)
*** no app loaded. going in full dynamic mode ***
"""


def test_a_view_exception_names_the_views_file_and_line_and_the_request():
    lines = log(VIEW_EXCEPTION) + [uwsgi_request("GET", "/gallery/stats/?week=48", 500)]
    [raised] = raised_in(lines)
    assert (raised.type, raised.message) == ("ZeroDivisionError", "division by zero")
    assert (raised.path, raised.method, raised.index, raised.causes) == ("/gallery/stats/", "GET", 9, ())
    assert [frame.function for frame in raised.frames] == ["inner", "_get_response", "stats"]
    assert project_frame(raised) == Frame(f"{APP}/gallery/views.py", 31, "stats", "average = total / count")
    assert template_name(raised) is None


def test_a_template_syntax_error_is_not_a_syntax_error_and_its_library_list_is_no_exception():
    [raised] = raised_in(log(TEMPLATE_SYNTAX))
    assert raised.type == "django.template.exceptions.TemplateSyntaxError"
    assert raised.name == "TemplateSyntaxError"
    assert raised.message == "'no_such_lib' is not a registered tag library. Must be one of:"
    assert raised.is_a("TemplateSyntaxError") and raised.is_a("django.template.exceptions.TemplateSyntaxError")
    assert not raised.is_a("SyntaxError") and not raised.chain_has("SyntaxError")
    assert raised.causes == (("KeyError", "'no_such_lib'"),)
    assert raised.chain_has("KeyError") and not raised.is_a("KeyError")
    assert raised.path == "/" and raised.frames[0].function == "inner"
    assert raised.frames[-1].code == "raise TemplateSyntaxError("  # not 3.13's "...<2 lines>..."
    assert template_name(raised) == "gallery/index.html"  # from the view's render() line


def test_a_missing_template_is_named_by_the_message_when_no_project_code_is_in_the_traceback():
    [raised] = raised_in(log(TEMPLATE_MISSING))
    assert raised.is_a("TemplateDoesNotExist") and raised.path == "/about/"
    assert project_frame(raised) is None
    assert template_name(raised) == "pages/about.html"


def test_template_names_in_a_message_or_in_the_projects_code():
    in_message = Raised("django.template.base.VariableDoesNotExist", "Failed lookup in template 'x/y.html'", ())
    assert template_name(in_message) == "x/y.html"
    assigned = Raised("KeyError", "'a'", (Frame(f"{APP}/gallery/views.py", 3, "<module>", 'template_name = "g/list.html"'),))
    assert template_name(assigned) == "g/list.html"
    loaded = Raised("ValueError", "", (Frame(f"{APP}/gallery/views.py", 3, "f", 't = get_template("g/a.html")'),))
    assert template_name(loaded) == "g/a.html"


def test_a_chained_database_error_is_djangos_with_mysqldbs_as_its_cause():
    [raised] = raised_in(log(DB_ACCESS_CHAINED))
    assert raised.type == "django.db.utils.OperationalError"
    assert raised.message == "(1044, \"Access denied for user 'mysite'@'%' to database 'mysite_new'\")"
    assert raised.causes == (("MySQLdb.OperationalError", raised.message),)
    assert raised.is_a("OperationalError") and not raised.is_a("MySQLdb.OperationalError")
    assert raised.chain_has("MySQLdb.OperationalError")
    assert raised.path == "/gallery/"  # logged before the first traceback of the chain
    assert raised.frames[0].file.endswith("/django/core/handlers/exception.py")  # the last traceback's
    assert project_frame(raised).line == 9


def test_a_start_up_import_error_has_no_request_and_its_project_frame_is_the_settings_line():
    # The run before logged a 404 (a warning, no traceback): it is not this traceback's request.
    lines = ["2026-12-01 21:10:00,001 WARNING django.request: Not Found: /favicon.ico"] + log(STARTUP_IMPORT_ERROR)
    [raised] = raised_in(lines)
    assert (raised.type, raised.message) == ("ModuleNotFoundError", "No module named 'sentry_sdk'")
    assert (raised.path, raised.method) == ("", "")
    assert lines[raised.index] == "ModuleNotFoundError: No module named 'sentry_sdk'"
    assert project_frame(raised) == Frame(f"{APP}/mysite/settings.py", 14, "<module>", "import sentry_sdk")
    assert raised.frames[3] == Frame("<frozen importlib._bootstrap>", 1387, "_gcd_import")  # printed without source
    assert request_errors(lines) == []


def test_project_frame_skips_packages_the_standard_library_and_frozen_modules():
    wsgi = Frame(f"{APP}/mysite/wsgi.py", 16, "<module>")
    library = (Frame(f"{SITE}/django/conf/__init__.py", 166, "__init__"),
               Frame("/usr/lib/python3/dist-packages/yaml/__init__.py", 1, "load"),  # Debian's python3-yaml
               Frame("/usr/local/lib/python3.13/importlib/__init__.py", 88, "import_module"),
               Frame("/usr/lib/python3.11/json/decoder.py", 337, "decode"),
               Frame("<frozen importlib._bootstrap>", 1387, "_gcd_import"))
    assert project_frame(Raised("ModuleNotFoundError", "No module named 'mysite.prod'", (wsgi, *library))) == wsgi
    assert project_frame(Raised("ModuleNotFoundError", "", library)) is None


def test_a_management_commands_lone_error_line_is_an_exception_and_ordinary_output_is_not():
    lines = log("""
Operations to perform:
  Apply all migrations: admin, auth, contenttypes, gallery, sessions
*** Operational MODE: preforking ***
Error: this is how tools word a message
CommandError: Conflicting migrations detected; multiple leaf nodes in the migration graph: (0003_a, 0003_b in gallery).
To fix them run 'python manage.py makemigrations --merge'
""")
    [raised] = raised_in(lines)
    assert raised.type == "CommandError" and raised.frames == () and raised.path == ""
    assert raised.message.startswith("Conflicting migrations detected;") and raised.index == 4


def test_a_traceback_cut_at_its_head_is_kept_when_its_exception_line_is_there():
    lines = log("""
    response = get_response(request)
  File "$SITE/django/core/handlers/base.py", line 197, in _get_response
    response = wrapped_callback(request, *callback_args, **callback_kwargs)
  File "$APP/gallery/views.py", line 31, in stats
    average = total / count
ZeroDivisionError: division by zero
Internal Server Error: /gallery/stats/
Traceback (most recent call last):
  File "$SITE/django/core/handlers/exception.py", line 55, in inner
""")
    [raised] = raised_in(lines)  # the last traceback lacks its exception line: not one
    assert raised.is_a("ZeroDivisionError") and raised.path == "" and len(raised.frames) == 2
    assert project_frame(raised).line == 31
    [lone] = raised_in(["django.core.exceptions.ImproperlyConfigured: Requested setting DEBUG, but settings "
                        "are not configured.", "unable to load app 0 (mountpoint='')"])
    assert lone.is_a("ImproperlyConfigured") and lone.frames == () and lone.index == 0


def test_request_errors_group_by_type_and_project_line_and_leave_start_up_errors_out():
    def stats(path: str) -> str:
        return VIEW_EXCEPTION.replace("/gallery/stats/", path) + uwsgi_request("GET", path, 500) + "\n"

    lines = log(STARTUP_IMPORT_ERROR + stats("/gallery/1/stats/") + TEMPLATE_MISSING + stats("/gallery/2/stats/")
                + stats("/gallery/1/stats/"))
    elsewhere = log(VIEW_EXCEPTION.replace("line 31, in stats", "line 44, in summary"))
    zero, missing, zero_elsewhere = request_errors(lines + elsewhere)
    assert (zero.count, zero.paths) == (3, ("/gallery/1/stats/", "/gallery/2/stats/"))
    assert zero.raised == raised_in(lines)[-1] and zero.raised.method == "GET"
    assert (missing.raised.name, missing.count, missing.paths) == ("TemplateDoesNotExist", 1, ("/about/",))
    assert (zero_elsewhere.raised.name, zero_elsewhere.count) == ("ZeroDivisionError", 1)
    assert project_frame(zero_elsewhere.raised).line == 44


def test_interleaved_uwsgi_lines_neither_break_a_traceback_nor_lend_it_their_method():
    lines = log(VIEW_EXCEPTION)
    lines.insert(4, uwsgi_request("POST", "/upload/", 200, pid=15))  # another worker, between two frames
    lines.insert(0, uwsgi_request("POST", "/gallery/stats/", 500))  # an earlier request
    lines += ["spawned uWSGI worker 3 (pid: 16, cores: 1)", uwsgi_request("GET", "/gallery/stats/", 200),
              uwsgi_request("GET", "/gallery/", 500), uwsgi_request("HEAD", "/gallery/stats/", 500)]
    [raised] = raised_in(lines)
    assert raised.path == "/gallery/stats/" and len(raised.frames) == 3
    assert raised.method == "HEAD"  # the first failed request to that path after the traceback

    broken = log(VIEW_EXCEPTION)
    broken.insert(6, "Tue Dec  1 21:14:20 2026 - worker 2 (pid: 15) is taking too much time")
    [raised] = raised_in(broken)  # the rest is read as a traceback cut at its head
    assert raised.is_a("ZeroDivisionError") and raised.path == "" and len(raised.frames) == 1


def test_an_exception_group_is_read_as_the_group_and_a_syntax_error_frame_has_no_function():
    group = log("""
Internal Server Error: /gallery/refresh/
  + Exception Group Traceback (most recent call last):
  |   File "$APP/gallery/thumbnails.py", line 20, in refresh
  |     raise ExceptionGroup("thumbnails failed", errors)
  | ExceptionGroup: thumbnails failed (2 sub-exceptions)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "$APP/gallery/thumbnails.py", line 14, in refresh
    |     make_thumbnail(photo)
    | OSError: cannot identify image file '/srv/media/a.jpg'
    +---------------- 2 ----------------
    | ValueError: bad size
    +------------------------------------
""")
    [raised] = raised_in(group)
    assert (raised.type, raised.message) == ("ExceptionGroup", "thumbnails failed (2 sub-exceptions)")
    assert raised.path == "/gallery/refresh/"
    assert project_frame(raised) == Frame(f"{APP}/gallery/thumbnails.py", 20, "refresh",
                                          'raise ExceptionGroup("thumbnails failed", errors)')
    syntax = log("""
Traceback (most recent call last):
  File "$APP/mysite/settings.py", line 10
    FOO = (
          ^
SyntaxError: '(' was never closed
""")
    [raised] = raised_in(syntax)
    assert raised.is_a("SyntaxError") and raised.frames == (Frame(f"{APP}/mysite/settings.py", 10, "", "FOO = ("),)


def test_a_recursions_folded_frames_stay_inside_its_traceback():
    lines = log("""
Traceback (most recent call last):
  File "$APP/gallery/models.py", line 40, in depth
    return self.parent.depth() + 1
           ~~~~~~~~~~~~~~~~~^^
  [Previous line repeated 996 more times]
  File "$APP/gallery/models.py", line 38, in depth
    if self.parent is None:
RecursionError: maximum recursion depth exceeded
""")
    [raised] = raised_in(lines)
    assert raised.is_a("RecursionError") and [frame.line for frame in raised.frames] == [40, 38]


def test_a_broken_off_traceback_is_no_exception_and_chains_nothing():
    lines = log("""
ValueError: an earlier run's error
Traceback (most recent call last):
Killed
Traceback (most recent call last):
  File "$SITE/redis/connection.py", line 385, in connect
    sock = self.retry.call_with_retry(
Tue Dec  1 21:14:20 2026 - worker 2 (pid: 15) is taking too much time
socket.gaierror: [Errno -2] Name or service not known
During handling of the above exception, another exception occurred:
Traceback (most recent call last):
  File "$SITE/redis/connection.py", line 391, in connect
    raise ConnectionError(self._error_message(e))
redis.exceptions.ConnectionError: Error -2 connecting to redis:6379. Name or service not known.
""")
    earlier, redis = raised_in(lines)  # "Killed" is not an exception; socket.gaierror's line lost its frames
    assert (earlier.type, earlier.causes) == ("ValueError", ())
    assert redis.is_a("ConnectionError") and redis.causes == ()
