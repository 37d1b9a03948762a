# Run inside web by one Python (Django starts once, not three times): compose/web/probe.py (the
# database and the cache; its path is argv[1]), then `showmigrations --plan` and
# `makemigrations --check --dry-run`. Prints one JSON object: each one's exit code and output.
import contextlib, io, json, os, runpy, sys
sys.path.insert(0, os.getcwd())
result = {}
def capture(run):
    out, code = io.StringIO(), 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        code = 2
        out.write(f"{type(exc).__name__}: {exc}")
    return {"code": code, "output": out.getvalue()}
result["probe"] = capture(lambda: runpy.run_path(sys.argv[1], run_name="__main__"))
from django.core.management import call_command
result["plan"] = capture(lambda: call_command("showmigrations", "--plan"))
result["models"] = capture(lambda: call_command("makemigrations", "--check", "--dry-run"))
print(json.dumps(result))
