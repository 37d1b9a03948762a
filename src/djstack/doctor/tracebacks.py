"""Python tracebacks and Django's request-error logging, read out of a service's log lines as facts:
which exception, raised where in the project's code, for which request path, how many times.

The lines are those of `Facts.logs[service]`: uWSGI's and Django's output, one line per item, blank
lines dropped, the head possibly cut (the last 300 lines of a crash-looping container)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

# "Traceback (most recent call last):" — or an exception group's, which Python 3.11+ prints with a margin.
HEADER = re.compile(r"^(?:  \+ Exception Group )?Traceback \(most recent call last\):$")
# '  File "/app/gallery/views.py", line 12, in index' — a SyntaxError's frame has no ", in …".
FRAME = re.compile(r'^  File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+))?$')
# The lines under a frame: its source, then Python 3.11+'s ^^^^/~~~~ markers, 3.13's "...<3 lines>...".
UNDER_FRAME = re.compile(r"^    ")
# A recursion's frames are folded into one line.
REPEATED = re.compile(r"^  \[Previous line repeated \d+ more times?\]$")
# The line that ends a traceback: "ZeroDivisionError: division by zero", "KeyboardInterrupt",
# "django.db.utils.OperationalError: (1045, …)", "socket.gaierror: …", "app.views.f.<locals>.Boom: x".
EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.<>]*)(?:: ?(?P<message>.*))?$")
# An exception line with no traceback before it (the head was cut, or a management command printed
# only "CommandError: …"): only names that end the way exception classes do, at the line's start,
# so that ordinary output ("Operational MODE: preforking") is never taken for one.
LONE_EXCEPTION = re.compile(
    r"^(?P<type>(?=[A-Za-z_])[\w.]*(?:Error|Exception|Warning|Exit|Interrupt|NotFound|Conflict|Configured|Exist))"
    r": (?P<message>.*)$")
# Tools word their messages "Error: …" too; a Python exception class is never just that.
NOT_EXCEPTION_TYPES = {"Error", "Warning"}
# Between the tracebacks of one chain of exceptions.
CHAIN = re.compile(r"^(?:The above exception was the direct cause of the following exception:"
                   r"|During handling of the above exception, another exception occurred:)$")
# Python 3.11+ prints an exception group's own traceback behind "  | "; its sub-exceptions are
# nested deeper ("    | ") and left unread: the group's line says what was raised.
GROUP_MARGIN = re.compile(r"^  \| ")
# django.request's message, written in the same write() as the traceback that follows it:
# "Internal Server Error: /notes/", "Forbidden (Permission denied): /x/", bare (Django's default
# formatter) or behind djstack's "{asctime} {levelname} {name}: " prefix.
REQUEST_LOGGED = re.compile(r"^(?:.*\bdjango\.request: )?[A-Z][A-Za-z ()]*: (?P<path>/\S*)$")
# uWSGI's request log line: "[pid: 12|app: 0|req: 3/7] 172.18.0.5 () {52 vars in 1029 bytes}
# [Mon Nov 30 10:00:00 2026] GET /notes/ => generated 145 bytes in 12 msecs (HTTP/1.1 500) …".
UWSGI_REQUEST = re.compile(r"^\[pid: \d+\|.*\] (?P<method>[A-Z]+) (?P<uri>\S+) => generated .*"
                           r"\(HTTP/[\d.]+ (?P<status>\d{3})\)")
# Where code that is not the project's lives: installed packages, the standard library (a versioned
# directory: /usr/lib/python3/ is only Debian's dist-packages' parent), importlib's frozen modules.
LIBRARY_FILE = re.compile(r"/(?:site|dist)-packages/|^/usr/(?:local/)?lib/python3\.\d+/|^<")
# The template a failing line names: render(request, "x.html", …), render_to_string("x"),
# get_template("x"), select_template(["x", …]), TemplateResponse(request, "x"), template_name = "x".
TEMPLATE_IN_CODE = re.compile(
    r"\b(?:render|render_to_string|get_template|select_template|TemplateResponse)\("
    r"(?:[^\"'(),]*,\s*)?\[?[\"'](?P<name>[^\"']+)[\"']"
    r"|\btemplate_name\s*=\s*[\"'](?P<assigned>[^\"']+)[\"']")
TEMPLATE_IN_MESSAGE = re.compile(r"\bin template '(?P<name>[^']+)'")


@dataclass(frozen=True)
class Frame:
    file: str  # as printed: "/app/gallery/views.py", "/opt/venv/lib/python3.13/site-packages/…"
    line: int
    function: str  # "" for a SyntaxError's frame
    code: str = ""  # the source line printed under it, stripped ("" when none was printed)


@dataclass(frozen=True)
class Raised:
    type: str  # as printed: "django.template.exceptions.TemplateSyntaxError", "ZeroDivisionError"
    message: str  # the rest of the exception line: a multi-line message's first line only
    frames: tuple[Frame, ...]  # outermost first, of the chain's last traceback
    causes: tuple[tuple[str, str], ...] = ()  # (type, message) of the chain's earlier exceptions, in order
    path: str = ""  # the request path Django logged just before the traceback; "" outside a request
    method: str = ""  # from uWSGI's log line for that request, when there is one
    index: int = 0  # index in the lines of the exception line

    @property
    def name(self) -> str:
        """The unqualified class name: "TemplateSyntaxError"."""
        return self.type.rsplit(".", 1)[-1]

    def is_a(self, *names: str) -> bool:
        """Whether this exception's class is one of `names` (qualified or not); never a class whose
        name merely ends the same way: "SyntaxError" is not "TemplateSyntaxError"."""
        return _type_is(self.type, names)

    def chain_has(self, *names: str) -> bool:
        """Like is_a, for this exception or any exception of its chain."""
        return any(_type_is(type_, names) for type_ in (self.type, *(cause for cause, _ in self.causes)))


@dataclass(frozen=True)
class RequestError:
    raised: Raised  # the last one of the group
    count: int  # how many requests it failed
    paths: tuple[str, ...]  # distinct request paths, first seen first


def _type_is(type_: str, names: tuple[str, ...]) -> bool:
    return any(type_ == name or type_.endswith("." + name) for name in names)


def raised_in(lines: list[str]) -> list[Raised]:
    """Every exception the lines show, in order of appearance: each traceback (a chain counts once,
    as its last exception), and each lone exception line (see LONE_EXCEPTION)."""
    lines = [GROUP_MARGIN.sub("", line, count=1) for line in lines]
    found: list[Raised] = []
    # Whether the last exception found may be continued by the next: a chain line came after it,
    # and no traceback began (and broke off) in between.
    last_is_open, chained = False, False
    i = 0
    while i < len(lines):
        line = lines[i]
        raised = None
        if (header := HEADER.match(line)) or FRAME.match(line):  # no header: the tail cut it off
            path = _request_path(lines, i) if header else ""
            frames, i = _frames(lines, i + 1 if header else i)
            exception = EXCEPTION.match(lines[i]) if frames and i < len(lines) else None
            if exception is None:
                last_is_open = chained = False
                continue  # a line that does not belong to it ended the traceback: read it afresh
            raised = Raised(exception["type"], exception["message"] or "", frames, path=path, index=i)
        elif (lone := LONE_EXCEPTION.match(line)) and lone["type"] not in NOT_EXCEPTION_TYPES:
            raised = Raised(lone["type"], lone["message"], (), index=i)
        elif CHAIN.match(line):
            chained = last_is_open
        if raised is not None:
            if chained:
                cause = found.pop()
                raised = replace(raised, causes=(*cause.causes, (cause.type, cause.message)),
                                 path=raised.path or cause.path)
            found.append(raised)
            last_is_open, chained = True, False
        i += 1
    return [_with_method(raised, lines) for raised in found]


def _frames(lines: list[str], i: int) -> tuple[tuple[Frame, ...], int]:
    """The frames from line i on, and the index of the first line after them."""
    frames: list[Frame] = []
    while i < len(lines):
        line = lines[i]
        if frame := FRAME.match(line):
            frames.append(Frame(frame["file"], int(frame["line"]), frame["function"] or ""))
        elif UNDER_FRAME.match(line) and frames:
            if not frames[-1].code:  # the first line under a frame is its source
                frames[-1] = replace(frames[-1], code=line.strip())
        elif not (REPEATED.match(line) or UWSGI_REQUEST.match(line)):
            # Other workers' request lines interleave with a long traceback without ending it.
            break
        i += 1
    return tuple(frames), i


def _request_path(lines: list[str], header: int) -> str:
    """The path of django.request's message right before the traceback header (it is written with
    the traceback, so nothing comes between)."""
    logged = REQUEST_LOGGED.match(lines[header - 1]) if header > 0 else None
    return logged["path"] if logged else ""


def _with_method(raised: Raised, lines: list[str]) -> Raised:
    """With the method of uWSGI's log line for the request, written once the error page was sent:
    the first failed request to the same path after the traceback."""
    if not raised.path:
        return raised
    for line in lines[raised.index + 1:]:
        request = UWSGI_REQUEST.match(line)
        if request and request["uri"].split("?")[0] == raised.path and int(request["status"]) >= 400:
            return replace(raised, method=request["method"])
    return raised


def project_frame(raised: Raised) -> Frame | None:
    """The innermost frame in the project's own code; None when every frame is a library's."""
    return next((frame for frame in reversed(raised.frames) if not LIBRARY_FILE.search(frame.file)), None)


def template_name(raised: Raised) -> str | None:
    """The template involved, when the exception's text or the project's failing line names it."""
    if raised.is_a("TemplateDoesNotExist") and raised.message:
        return raised.message.strip()
    if in_message := TEMPLATE_IN_MESSAGE.search(raised.message):
        return in_message["name"]
    frame = project_frame(raised)
    in_code = TEMPLATE_IN_CODE.search(frame.code) if frame else None
    return (in_code["name"] or in_code["assigned"]) if in_code else None


def request_errors(lines: list[str]) -> list[RequestError]:
    """The exceptions raised while answering requests, one per type and place in the project's code
    (the innermost frame when the project's code is not in the traceback), first seen first."""
    groups: dict[tuple, list[Raised]] = {}
    for raised in raised_in(lines):
        if raised.path:
            where = project_frame(raised) or (raised.frames[-1] if raised.frames else None)
            groups.setdefault((raised.type, where and (where.file, where.line)), []).append(raised)
    return [RequestError(group[-1], len(group), tuple(dict.fromkeys(r.path for r in group)))
            for group in groups.values()]
