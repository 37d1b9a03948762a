"""The `djstack` command line. Each command is a thin layer over the module that does the work."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from . import __version__, ui
from .errors import DjstackError
from .model import CSP_MODES, IMAGE_SOURCES, TLS_MODES, TLS_PROFILES, StackOptions
from .releases import DEFAULT_KEEP, DEFAULT_TIMEOUT

FOLDER = click.argument(
    "folder", required=False, default=".", type=click.Path(file_okay=False, path_type=Path)
)

#: deploy's and rollback's --timeout.
RELEASE_TIMEOUT = click.option(
    "--timeout", type=click.IntRange(10), default=DEFAULT_TIMEOUT, show_default=True, metavar="SECONDS",
    help="How long the release may take to pass its healthcheck before it is removed (the live one stays).")


def handles_errors(func):
    """Print a DjstackError as message + fix and exit non-zero, without a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except DjstackError as exc:
            ui.error(exc.message, exc.fix)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            ui.error("Interrupted.")
            sys.exit(130)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="djstack")
def main() -> None:
    """Deploy a Django project on Docker Compose: Django+uWSGI, nginx, MySQL and Redis.

    \b
    djstack init [FOLDER]   write the stack's files into your project
    djstack up [FOLDER]     build, start, wait until healthy, check it serves
    """


@main.command()
@FOLDER
@click.option("--images", "image_source", type=click.Choice(["auto", *IMAGE_SOURCES]), default="auto",
              show_default=True,
              help="Base images: official (Docker Hub) or debian (built locally from a Debian mirror). "
                   "auto keeps what .env recorded, else picks official when Docker Hub answers.")
@click.option("--host", "hosts", multiple=True, metavar="NAME",
              help="A host name the site answers to (repeatable). Default: localhost, 127.0.0.1.")
@click.option("--port", "http_port", type=click.IntRange(1, 65535), help="Host port nginx publishes. Default: 80.")
@click.option("--bind", "http_bind", metavar="ADDRESS",
              help="Host address nginx listens on. Default: 0.0.0.0 (all).")
@click.option("--domain", "domains", multiple=True, metavar="NAME",
              help="A domain of the site in HTTPS mode (repeatable): the certificate's names, ALLOWED_HOSTS "
                   "and CSRF_TRUSTED_ORIGINS. Turns HTTPS on (--tls provided unless told otherwise).")
@click.option("--tls", type=click.Choice(TLS_MODES),
              help="off: plain HTTP. provided: your certificate in compose/nginx/ssl/fullchain.pem and "
                   "privkey.pem. self-signed: init makes one, for testing. acme: a certbot service gets one "
                   "from Let's Encrypt (or --acme-server) over HTTP-01 and renews it; a self-signed stand-in "
                   "until then. Default: provided with --domain, else off (or what .env recorded).")
@click.option("--acme-server", metavar="URL",
              help="With --tls acme: the ACME server's directory URL. Default: Let's Encrypt's production "
                   "(https://acme-v02.api.letsencrypt.org/directory), or what .env recorded (ACME_SERVER).")
@click.option("--acme-email", metavar="ADDRESS",
              help="With --tls acme: the ACME account's contact address (expiry notices). Default: none.")
@click.option("--acme-ca-bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --tls acme: the CA certificate (PEM) of a private ACME server (Pebble, step-ca); "
                   "init copies it to compose/certbot/acme-ca.pem, which certbot trusts.")
@click.option("--tls-profile", type=click.Choice(tuple(TLS_PROFILES)),
              help="Mozilla's TLS profile: intermediate (TLS 1.2 and 1.3) or modern (TLS 1.3 only, for clients "
                   "from 2018 on; a self-signed certificate then lives 90 days). Default: intermediate.")
@click.option("--https-port", type=click.IntRange(1, 65535), help="Host port for HTTPS. Default: 443.")
@click.option("--hsts-seconds", type=click.IntRange(0), metavar="SECONDS",
              help="HSTS max-age with --tls provided or acme (0 = off). Default: 31536000 (a year). "
                   "Always off for self-signed certificates.")
@click.option("--csp", type=click.Choice(CSP_MODES),
              help="Content-Security-Policy nginx adds where Django sends none: default (restricts plugins, "
                   "<base>, form targets and framing), strict-report-only (that, and reports what strict "
                   "would block), strict (only the site's own scripts and styles, no inline code). "
                   "Default: default.")
@click.option("--name", help="Compose project name. Default: the project folder's name.")
@click.option("--python", "python", metavar="X.Y",
              help="The Python the web image runs. Default: what the project asks for (.python-version, "
                   "runtime.txt, .tool-versions, Pipfile, requires-python), else 3.13; .env records it.")
@click.option("--settings", "settings", metavar="MODULE",
              help="The project's production settings module, e.g. config.settings.production. Default: the "
                   "one wsgi.py names, or a production/prod/deploy sibling of manage.py's; .env records it.")
@click.option("--pip-index-url", metavar="URL", help="A PyPI mirror for building the web image.")
@click.option("--ca-bundle", "pip_ca_bundle", type=click.Path(dir_okay=False, path_type=Path),
              help="Extra CA bundle (PEM) for pip behind a TLS-inspecting proxy; given to the build as a "
                   "secret, never stored in an image.")
@click.option("--debian-mirror", metavar="URL", help="Debian mirror for `--images debian`.")
@click.option("--workers/--no-workers", "workers", default=None,
              help="--no-workers leaves background work out: no Celery worker, beat, Flower or broker, even when "
                   "the project has a Celery app or Procfile process lines. Default: workers when a Celery app is "
                   "found (or what .env recorded, WORKERS); --workers puts them back.")
@click.option("--flower/--no-flower", "flower", default=None,
              help="Add Flower, Celery's monitor, behind nginx at a path of its own and always with a password "
                   "(FLOWER_PASSWORD in .env). Default: off (or what .env recorded, FLOWER).")
@click.option("--force", is_flag=True,
              help="Replace files that differ from what djstack would write, keeping each as FILE.bak.")
@handles_errors
def init(folder, image_source, hosts, http_port, http_bind, domains, tls, acme_server, acme_email, acme_ca_bundle,
         tls_profile, https_port, hsts_seconds, csp, name, python, settings, pip_index_url, pip_ca_bundle, debian_mirror, workers, flower, force):
    """Write the stack's files into the Django project in FOLDER (default: here).

    Existing files are never overwritten unless --force. Re-running keeps .env's secrets and choices.
    """
    from .detect import detect
    from .initialise import choose_source, decisions, run_init

    if workers is False and flower:
        raise click.UsageError("--flower shows the workers' tasks: it needs the workers (drop --no-workers).")
    project = detect(folder, settings)
    source, why = choose_source(project, image_source)
    options = StackOptions(
        name=name,
        image_source=source,
        hosts=tuple(hosts),
        http_bind=http_bind,
        http_port=http_port,
        pip_index_url=pip_index_url,
        pip_ca_bundle=str(pip_ca_bundle.resolve()) if pip_ca_bundle else None,
        debian_mirror=debian_mirror,
        domains=tuple(domains),
        tls=tls,
        tls_profile=tls_profile,
        https_port=https_port,
        hsts_seconds=hsts_seconds,
        acme_server=acme_server,
        acme_email=acme_email,
        acme_ca_bundle=str(acme_ca_bundle.resolve()) if acme_ca_bundle else None,
        csp=csp,
        python=python,
        settings=settings,
        workers=workers,
        flower=flower,
    )
    stack, results = run_init(folder, options, force=force)
    ui.say(f"Images: [bold]{stack.image_source}[/] ({why}).")
    for topic, text in decisions(stack):
        ui.say(f"{topic + ':':<10} {text}")
    for result in results:
        note = f" (previous kept as {result.backup})" if result.backup else ""
        ui.say(f"  {result.action:<9} {result.path}{note}")
    if stack.https:
        ui.say(f"HTTPS ({stack.tls}, TLS profile {stack.tls_profile}) for {', '.join(stack.domains)}: certificate "
               f"{stack.tls_files.folder}/{stack.tls_files.cert}, key {stack.tls_files.folder}/{stack.tls_files.key}.")
    if stack.acme:
        ui.say(f"ACME: the {stack.services.certbot} service gets the certificate from {stack.acme_server} over "
               f"HTTP-01: each domain must resolve to this host, and port 80 must reach it. Until then nginx "
               "serves the self-signed stand-in.")
    ui.ok(f"Stack written. Next: djstack up {folder}")


@main.command()
@FOLDER
@handles_errors
def up(folder):
    """Build, start, wait until every service is healthy, and check the site through nginx."""
    from .envfile import read_env
    from .initialise import load_initialised
    from .lifecycle import up as run_up

    stack = load_initialised(folder)
    run_up(stack, read_env(stack.env_path))
    ui.say(f"[bold]{stack.name}[/] is up: [bold]{stack.site_url}[/]")


@main.command()
@FOLDER
@click.option("--tag", metavar="TAG", help="The new release's image tag. Default: the git commit of a clean "
                                           "checkout, else the build's time (YYYYmmdd-HHMMSS, UTC).")
@RELEASE_TIMEOUT
@click.option("--allow-breaking-migrations", is_flag=True,
              help="Apply migrations the live release cannot survive (dropped or renamed columns and tables).")
@click.option("--keep", type=click.IntRange(0), default=DEFAULT_KEEP, show_default=True, metavar="N",
              help="Old releases kept besides the live one; older images are pruned.")
@handles_errors
def deploy(folder, tag, timeout, allow_breaking_migrations, keep):
    """Put a new version of the code live without dropping a request.

    Builds a new release of web, applies its migrations once while the live release serves (refusing
    ones the live code cannot survive), starts it beside the live one, switches nginx over once it is
    healthy, lets the old one finish its requests and removes it. A release that fails is removed and
    the live one keeps serving. Then Celery's worker and beat (and a Procfile's other processes) move
    to the new release: each finishes its tasks in flight first, and two beats never run at once.
    Use `djstack up` to start a stack; `deploy` to change a running one.
    """
    from .deploy import deploy as run_deploy
    from .initialise import load_initialised

    stack = load_initialised(folder)
    result = run_deploy(stack, tag=tag, timeout=timeout, allow_breaking=allow_breaking_migrations, keep=keep)
    applied = f"{len(result.migrations)} migration(s) applied" if result.migrations else "no migrations"
    pruned = f"; pruned {', '.join(result.pruned)}" if result.pruned else ""
    if result.static_pruned:
        pruned += f"; {result.static_pruned} old static file(s) removed"
    moved = f"; {', '.join(result.restarted)} restarted on it" if result.restarted else ""
    ui.ok(f"Release {result.tag} is live ({applied}{moved}; {result.seconds:.0f} s; previous {result.previous}"
          f"{pruned}).")


@main.command()
@FOLDER
@click.argument("tag", required=False)
@RELEASE_TIMEOUT
@handles_errors
def rollback(folder, tag, timeout):
    """Put the previous release (or TAG) back live, the same zero-downtime way as deploy.

    Migrations are not reversed: the database stays as the newer release left it.
    """
    from .deploy import rollback as run_rollback
    from .initialise import load_initialised

    stack = load_initialised(folder)
    result = run_rollback(stack, tag=tag, timeout=timeout)
    moved = f"; {', '.join(result.restarted)} restarted on it" if result.restarted else ""
    ui.ok(f"Release {result.tag} is live again ({result.seconds:.0f} s; was {result.previous}{moved}). "
          "Migrations were not reversed.")


@main.command()
@FOLDER
@handles_errors
def releases(folder):
    """List the kept releases of web: tag, image, when built, which one is live."""
    from rich.table import Table

    from . import releases as releases_mod
    from .compose import Compose
    from .deploy import running_images
    from .initialise import load_initialised

    stack = load_initialised(folder)
    table = Table("release", "image", "built", "live")
    for r in releases_mod.listed(stack.web_image, running_images(Compose(stack.dir))):
        table.add_row(r.tag, r.image_id.removeprefix("sha256:")[:12], r.created, "live" if r.live else "")
    ui.console.print(table)


@main.command()
@FOLDER
@click.option("--volumes", is_flag=True, help="Also delete the volumes: the database, Redis data, media.")
@click.option("--yes", is_flag=True, help="Do not ask before deleting volumes.")
@handles_errors
def down(folder, volumes, yes):
    """Stop and remove the stack's containers. Data volumes are kept unless --volumes."""
    from .initialise import load_initialised
    from .lifecycle import down as run_down

    stack = load_initialised(folder)
    if volumes and not yes:
        if not sys.stdin.isatty():
            raise DjstackError("--volumes deletes the database and media, and there is no terminal to confirm.",
                               "Add --yes to confirm.")
        click.confirm(f"Delete {stack.name}'s database, Redis data and media for good?", abort=True)
    run_down(stack, volumes=volumes)


@main.command()
@FOLDER
@handles_errors
def ps(folder):
    """Show each service's state and health (a service of the stack without a container too)."""
    from rich.table import Table

    from .compose import Compose, stack_services
    from .initialise import load_initialised

    stack = load_initialised(folder)
    table = Table("service", "state", "health", "exit code")
    states = Compose(stack.dir).states()
    for s in states:
        table.add_row(s.service, s.state, s.health or "-", str(s.exit_code) if s.state != "running" else "")
    for missing in (name for name in stack_services(stack) if name not in {s.service for s in states}):
        table.add_row(missing, "no container", "-", "")
    ui.console.print(table)


@main.command()
@FOLDER
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.option("--explain", "rule_id", metavar="ID",
              help="Say what rule ID finds, why it breaks the stack, the fix and an example; check nothing.")
@handles_errors
def check(folder, as_json, rule_id):
    """Check the stack's files for mistakes that break it (no Docker needed).

    Exits 1 when there is an error; warnings alone exit 0. Every rule is listed in docs/rules.md.
    """
    from .check import has_errors, run_check
    from .check.docs import explanation
    from .check.registry import explain
    from .check.report import print_human, to_json

    if rule_id is not None:
        click.echo(explanation(explain(rule_id)))
        return
    findings = run_check(folder)
    if as_json:
        click.echo(to_json(findings))
    else:
        print_human(ui.console, findings, str(folder.resolve()))
    sys.exit(1 if has_errors(findings) else 0)


@main.command()
@FOLDER
@click.option("--json", "as_json", is_flag=True,
              help="Print the findings as a JSON list, the most likely root cause first.")
@click.option("--save-evidence", "evidence", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write what doctor gathered (container states, log lines, probe results) to this "
                   "JSON file, e.g. for a bug report. Log lines may hold data from requests: read it first.")
@click.option("--replay", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Diagnose evidence saved with --save-evidence instead of the running stack.")
@handles_errors
def doctor(folder, as_json, evidence, replay):
    """Diagnose the running stack: the most likely root cause first, with evidence and the fix.

    Reads each container's state and logs, probes web→db, web→redis, nginx→web and the site
    through nginx, checks migrations, the static and media volumes, and runs `djstack check`.
    Exits 0 when healthy, 1 when something is wrong, 2 when FOLDER holds no stack.
    """
    from .doctor import run_doctor
    from .doctor.render import print_human, to_json

    report = run_doctor(folder, evidence, replay)
    if as_json:
        click.echo(to_json(report))
    else:
        print_human(ui.console, report, str(folder.resolve()))
    sys.exit(0 if report.healthy else 1)


@main.command()
@click.argument("service", required=False)
@click.option("--dir", "folder", default=".", type=click.Path(file_okay=False, path_type=Path),
              help="The project folder (default: here).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines.")
@click.option("--tail", default="200", show_default=True, help="Lines to show from the end, or 'all'.")
@handles_errors
def logs(service, folder, follow, tail):
    """Show the logs of SERVICE (web, nginx, db, redis; worker, beat, broker, flower with background
    work), or of all services."""
    from . import execute
    from .commands.compose import show_logs
    from .compose import Compose, stack_services
    from .initialise import load_initialised

    stack = load_initialised(folder)
    known = stack_services(stack)
    if service is not None and service not in known:
        raise click.BadParameter(f"{service!r} is not a service of this stack: {', '.join(known)}.",
                                 param_hint="SERVICE")
    sys.exit(execute.attached(show_logs(Compose(stack.dir).project, service, tail, follow=follow)))


@main.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--dir", "folder", default=".", type=click.Path(file_okay=False, path_type=Path),
              help="The project folder (default: here).")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, required=True)
@handles_errors
def manage(folder, args):
    """Run `python manage.py ARGS…` inside the running web container."""
    from . import execute
    from .commands.web import manage as manage_command
    from .compose import Compose, require_running
    from .initialise import load_initialised

    stack = load_initialised(folder)
    compose = Compose(stack.dir)
    require_running(compose, stack.services.web)
    command = manage_command(compose.project, stack.services.web, args, tty=sys.stdin.isatty())
    sys.exit(execute.attached(command))


@main.command()
@FOLDER
@handles_errors
def dbshell(folder):
    """Open a MySQL shell on the application's database, as the application's user."""
    from . import execute
    from .commands.db import dbshell as dbshell_command
    from .compose import Compose, require_running
    from .initialise import load_initialised

    stack = load_initialised(folder)
    compose = Compose(stack.dir)
    require_running(compose, stack.services.db)
    # The credentials are already in db's environment; none appears on a command line.
    sys.exit(execute.attached(dbshell_command(compose.project, stack.services.db, tty=sys.stdin.isatty())))


BACKUP_TO = click.option("--to", "to", type=click.Path(file_okay=False, path_type=Path),
                         help="Folder of the archives. Default: backups/ in the project.")


COPY_TO = click.option("--copy-to", "copy_to", metavar="DEST",
                       help="Also copy each verified archive off the host with rclone, and check the copy: a local "
                            "path or mount, user@host:path or sftp://user@host:port/path (SFTP), or an rclone "
                            "remote such as s3:bucket/site or b2:bucket/site (set up with `rclone config`).")


@main.command()
@FOLDER
@BACKUP_TO
@click.option("--keep", type=click.IntRange(min=1), metavar="N",
              help="Afterwards delete this project's older archives, keeping the newest N (never the newest).")
@COPY_TO
@click.option("--keep-copies", type=click.IntRange(min=1), metavar="N",
              help="With --copy-to: afterwards delete this project's older copies there, keeping the newest N. "
                   "Default: none deleted (the destination's own retention, e.g. an S3 lifecycle rule, or "
                   "write-only credentials that cannot delete).")
@click.option("--schedule", metavar="daily|hourly|CRON",
              help="Do not back up now: install a systemd timer (where systemd runs) or a cron entry that runs "
                   "this backup, with the same --to, --keep and --copy-to, daily (03:17), hourly (:17) or at "
                   "five cron fields such as '30 2 * * *'. Replaces this project's earlier schedule.")
@click.option("--unschedule", is_flag=True, help="Remove this project's timer or cron entry.")
@handles_errors
def backup(folder, to, keep, copy_to, keep_copies, schedule, unschedule):
    """Back up the running stack: database dump and media files in one verified archive.

    The site keeps serving (mysqldump --single-transaction). Prints one line on success and exits
    non-zero on failure, so it suits cron or a systemd timer (see --schedule).

    Celery's queued tasks (the broker's messages) are not in the archive: the broker is no store of
    record. A task is a message about data the database holds, and the code sends it again (beat at
    its next due time, a view on the next event); a restored database is older than the queue, whose
    messages would name rows that are gone or already handled.
    """
    from .backup import schedule as sched
    from .backup.archive import human_size
    from .backup.copy import copy_archive, prune_copies
    from .backup.run import NOT_IN_ARCHIVE, backup as run_backup, default_folder, project_name, record_run
    from .initialise import load_initialised

    if schedule and unschedule:
        raise click.UsageError("Give --schedule or --unschedule, not both.")
    if keep_copies and not copy_to:
        raise click.UsageError("--keep-copies N prunes the copies --copy-to DEST makes: give --copy-to too.")
    parsed = sched.parse_schedule(schedule) if schedule else None  # a bad schedule before anything is looked at
    stack = load_initialised(folder)
    where = to or default_folder(stack)
    if unschedule:
        removed = sched.remove(stack.dir, project_name(stack))
        ui.ok(f"Removed {', '.join(removed)}." if removed else "No backup schedule was installed.")
        return
    if parsed:
        installed = sched.install(stack.dir, stack.project.root, project_name(stack), parsed, where, keep, copy_to,
                                  keep_copies)
        kept = f"keeping the newest {installed.keep}" if installed.keep else "keeping every archive (no --keep)"
        ui.ok(f"Scheduled {parsed.text} ({installed.kind}: {installed.where}), {kept}"
              + (f", copied to {copy_to}" if copy_to else "")
              + (f" (keeping the newest {installed.keep_copies} there)" if installed.keep_copies else "")
              + f". It runs: {' '.join(installed.command)}")
        return
    try:
        result = run_backup(stack, where, keep=keep)
    except DjstackError as exc:
        record_run(where, ok=False, archive_path=None, error=exc.message)
        raise
    copies, pruned = {}, []
    if copy_to:
        try:
            copies[copy_to] = copy_archive(result.path, copy_to)
        except DjstackError as exc:
            record_run(where, ok=False, archive_path=result.path, error=exc.message, copies={copy_to: "failed"})
            raise
    record_run(where, ok=True, archive_path=result.path, error=None, copies=copies)
    if keep_copies:  # after the run is recorded: the new copy is good even if this fails
        pruned = prune_copies(copy_to, project_name(stack), keep_copies)
    deleted = f"; deleted {len(result.deleted)} older" if result.deleted else ""
    copied = f"; copy checked at {copies[copy_to]}" if copies else ""
    copied += f" (deleted {len(pruned)} older there)" if pruned else ""
    ui.ok(f"Backed up to {result.path} ({human_size(result.size)}: database dump {human_size(result.dump_size)}, "
          f"{result.media_files} media files){deleted}{copied}." + (f" {NOT_IN_ARCHIVE}" if stack.workers else ""))


@main.command()
@FOLDER
@BACKUP_TO
@click.option("--copy-to", "copy_to", metavar="DEST",
              help="Also check the copies there (default: the scheduled backup's --copy-to).")
@handles_errors
def backups(folder, to, copy_to):
    """List the backup archives with their date, size and whether each verifies; when the last
    backup ran and how it ended; and whether each archive's off-host copy matches it.

    Exits 1 when an archive does not verify or a copy differs from its archive.
    """
    from rich.markup import escape
    from rich.table import Table

    from .backup import schedule as sched
    from .backup.archive import human_size
    from .backup.copy import check_copies
    from .backup.run import default_folder, last_run, list_backups
    from .initialise import load_stack

    stack = load_stack(folder)
    record = sched.read_record(stack.dir)
    where = to or (Path(record.folder) if record else default_folder(stack))
    copy_to = copy_to or (record.copy_to if record else None)
    terminal = ui.console.is_terminal
    if record:
        ui.say(f"Scheduled {record.schedule} ({record.kind}: {record.where}).") if terminal else \
            click.echo("\t".join(["schedule", record.schedule, record.kind, record.where]))
    run = last_run(where)
    if run:
        outcome = "ok" if run.get("ok") else f"FAILED: {run.get('error')}"
        verified = "verified" if run.get("verified") else "not verified"
        if terminal:
            ui.say(f"Last run {run.get('finished')}: {escape(outcome)}, {verified}; last good backup "
                   f"{run.get('last_good') or 'never'}.")
        else:
            click.echo("\t".join(["last run", str(run.get("finished")), outcome, verified,
                                  f"last good {run.get('last_good') or 'never'}"]))
    rows = list_backups(where)
    if not rows:
        ui.say(f"No archives in {where}.")
        return
    copies = {c.name: c.state for c in check_copies([row.path for row in rows], copy_to)} if copy_to else {}
    if terminal:
        table = Table("created (UTC)", "size", "verifies", "archive", *([f"copy in {copy_to}"] if copy_to else []))
        for row in rows:
            state = copies.get(row.path.name)
            table.add_row(row.created, human_size(row.size),
                          "[green]yes[/]" if row.problem is None else f"[red]no[/]: {escape(row.problem)}",
                          row.path.name,
                          *([("[green]matches[/]" if state == "matches" else f"[red]{state}[/]")] if copy_to else []))
        ui.console.print(table)
    else:  # for scripts: one tab-separated line per archive, nothing cut short
        for row in rows:
            copy = [f"copy {copies[row.path.name]}"] if copy_to else []
            click.echo("\t".join([row.path.name, row.created, str(row.size), *copy,
                                  "verifies" if row.problem is None else f"FAILS: {row.problem}"]))
    sys.exit(1 if any(row.problem for row in rows) or "differs" in copies.values() else 0)


@main.command(options_metavar="[--yes] [--allow-other-project]")
@click.argument("paths", nargs=-1, required=True, metavar="[FOLDER] ARCHIVE",
                type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database and media.")
@click.option("--allow-other-project", is_flag=True, help="Accept an archive made by another project.")
@handles_errors
def restore(paths, yes, allow_other_project):
    """Restore ARCHIVE into the running stack in FOLDER (default: here).

    The archive is verified first (readable, checksums, same project) and refused if anything is
    wrong, touching nothing. Then a safety backup of the current data is taken, and the database and
    the media files are replaced, web and the background services (Celery's worker and beat) stopped
    meanwhile. Tasks queued before the restore stay in the broker and may name data the restored
    database lacks: Celery tasks must tolerate that (and run at least once anyway).
    """
    from .backup.archive import human_size
    from .backup.run import restore as run_restore
    from .initialise import load_initialised

    if len(paths) > 2:
        raise click.UsageError("Give at most a FOLDER and an ARCHIVE.")
    folder, archive = paths if len(paths) == 2 else (Path("."), paths[0])
    stack = load_initialised(folder)
    result = run_restore(stack, archive, yes=yes, allow_other_project=allow_other_project)
    ui.ok(f"Restored {result.archive.name}: {result.tables} tables, {result.rows} rows "
          f"(dump {human_size(result.dump_size)}); {result.media_files} media files "
          f"({human_size(result.media_size)} as tar). Previous data kept in {result.safety}.")


@main.command()
@click.option("--mirror", metavar="URL", help="Debian mirror. Default: the host's own apt mirror.")
@click.option("--rebuild", is_flag=True, help="Rebuild images that already exist.")
@click.option("--python", "pythons", multiple=True, metavar="X.Y",
              help="Also build the python images of this version (repeatable): 3.11 (bookworm), 3.13 "
                   "(trixie) or 3.14 (forky). `djstack up` builds the ones a project needs by itself.")
@click.option("--node", is_flag=True, help="Also build the node image a JavaScript build stage uses.")
@click.option("--certbot", is_flag=True, help="Also build the certbot image of --tls acme stacks "
              "(`djstack up` builds it when a stack needs it).")
@handles_errors
def images(mirror, rebuild, pythons, node, certbot):
    """Build the local `debian` base images (python, MariaDB, Redis, nginx) with debootstrap."""
    from . import baseimages, docker
    from .imagesets import certbot_image, image_set, node_image

    docker.require_engine()
    names = baseimages.default_images()
    for version in pythons:
        names += [image_set("debian", version).python, image_set("debian", version).python_build]
    if node:
        names.append(node_image("debian"))
    if certbot:
        names.append(certbot_image("debian"))
    built = baseimages.ensure_images(names, mirror, rebuild=rebuild, say=ui.say)
    ui.ok(f"Built {len(built)} image(s)." if built else "All base images already exist (use --rebuild).")
