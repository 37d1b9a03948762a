"""check/models/nginx.py through its public parse: `Nginx(files)` on configs written by the test,
then the servers, locations, passes and targets the rules read. Found by mutation testing
(scripts/mutants.sh, second pass): the rules' tests plant one defect each and leave these edges open."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import c_locale
from djstack.check.models.nginx import Directive, Nginx, Target, inherited, named, size_bytes


def parse(tmp_path: Path, *texts: str, names: tuple[str, ...] = ()) -> Nginx:
    files = []
    for i, text in enumerate(texts):
        rel = names[i] if i < len(names) else f"conf{i}.conf"
        path = tmp_path / rel.replace("/", "_")
        path.write_text(text, encoding="utf-8")
        files.append((path, rel))
    return Nginx(files)


def targets(nginx: Nginx) -> list[list[Target] | None]:
    return [p.targets for p in nginx.passes()]


@pytest.mark.parametrize("text, size", [
    ("10", 10), ("1k", 1024), ("1K", 1024), ("3m", 3 * 1024**2), ("3M", 3 * 1024**2), ("2g", 2 * 1024**3),
    ("2G", 2 * 1024**3),
])
def test_size_bytes_reads_nginx_units(text, size):
    assert size_bytes(text) == size


@pytest.mark.parametrize("text", ["", "m", "10mb", "1.5m", "10 m", "-1", "10t"])
def test_size_bytes_refuses_what_nginx_refuses(text):
    assert size_bytes(text) is None


def test_a_conf_d_file_is_read_inside_http(tmp_path):
    nginx = parse(tmp_path, "server { listen 80; server_name a.example b.example; }\n", names=("compose/nginx/site.conf",))
    assert nginx.files == ["compose/nginx/site.conf"]
    assert nginx.errors == []
    [server] = nginx.servers
    assert server.names == ["a.example", "b.example"]
    assert server.directive.name == "server" and server.directive.line == 1
    assert server.directive.file == "compose/nginx/site.conf"
    assert server.chain[0] is server.directive.block and len(server.chain) == 2


def test_a_main_config_is_read_from_its_http_block(tmp_path):
    nginx = parse(tmp_path, "events {}\nhttp {\n  client_max_body_size 5m;\n  server { listen 80; }\n}\n")
    [server] = nginx.servers
    assert server.directive.line == 4
    assert [d.name for d in server.chain[1]] == ["client_max_body_size", "server"]
    assert server.chain[1][0].args == ["5m"]


def test_several_files_give_every_server(tmp_path):
    nginx = parse(tmp_path, "server { listen 80; }\n", "server { listen 81; }\nserver { listen 82; }\n")
    assert [s.directive.file for s in nginx.servers] == ["conf0.conf", "conf1.conf", "conf1.conf"]
    assert nginx.files == ["conf0.conf", "conf1.conf"]


def test_directive_tree_keeps_args_lines_and_blocks(tmp_path):
    nginx = parse(tmp_path, "server {\n  listen 80;\n  location / {\n    return 200;\n  }\n}\n")
    [server] = nginx.servers
    listen, location = server.directive.block
    assert (listen.name, listen.args, listen.line, listen.block) == ("listen", ["80"], 2, None)
    assert location.block[0].name == "return" and location.block[0].line == 4
    assert Directive.tree([{"directive": "x", "line": 3}], "f") == [Directive("x", [], 3, "f", None)]


def test_errors_name_the_file_line_and_message_without_the_temporary_path(tmp_path):
    nginx = parse(tmp_path, "server {\n  listen 80;\n", names=("compose/nginx/site.conf",))
    [(file, line, message)] = nginx.errors
    assert file == "compose/nginx/site.conf"
    assert line == 2
    assert message == 'unexpected end of file, expecting "}"'


def test_ssl_listens(tmp_path):
    nginx = parse(tmp_path,
                  "server { listen 80; listen 443 ssl; }\n"
                  "server { listen 8443; ssl on; }\n"
                  "server { listen 80; ssl off; }\n")
    assert [[d.args for d in s.ssl_listens] for s in nginx.servers] == [[["443", "ssl"]], [["8443"]], []]


def test_inherited_takes_the_innermost_level_that_sets_it(tmp_path):
    inner = [Directive("add_header", ["A", "1"], 1, "f", None)]
    outer = [Directive("add_header", ["B", "2"], 2, "f", None), Directive("include", ["/etc/nginx/uwsgi_params"], 3, "f", None)]
    assert inherited([inner, outer], "add_header") == inner
    assert inherited([[], outer], "add_header") == outer[:1]
    assert inherited([[], outer], "uwsgi_param", also="uwsgi_params") == outer[1:]
    assert inherited([[], outer], "uwsgi_param") == []
    assert inherited([[], outer], "uwsgi_param", also="fastcgi_params") == []
    assert named(outer, "include") == outer[1:]


MATCHING = """server {
  location / { return 200; }
  location /static/ { return 201; }
  location /static/img/ { return 202; }
  location = /exact { return 203; }
  location ^~ /media/ { return 204; }
  location ~ \\.ph+p$ { return 205; }
  location ~* \\.PNG$ { return 206; }
  location ~ ( { return 207; }
  location ~ \\.txt$ { return 209; }
  location /api/ {
    location /api/v1/ { return 208; }
  }
}
"""


@pytest.mark.parametrize("uri, line", [
    ("/", 2), ("/page", 2), ("/static/x.css", 3), ("/static/img/a", 4), ("/exact", 5), ("/exact/", 2),
    ("/media/a.php", 6), ("/static/a.php", 7), ("/x/a.png", 8), ("/static/img/b.png", 8),
    ("/api/v1/x", 12), ("/api/x", 11), ("/static/a.PHP", 3), ("/a.txt", 10),
])
def test_match_picks_the_location_nginx_picks(tmp_path, uri, line):
    """`~` is case-sensitive, `~*` is not; a regex Python cannot compile is skipped, not the end."""
    [server] = parse(tmp_path, MATCHING).servers
    loc, chain = server.match(uri)
    assert loc.line == line
    assert chain[0] is loc.block


def test_match_without_a_prefix_that_fits_is_none(tmp_path):
    [server] = parse(tmp_path, "server { location /a/ { return 200; } location = /b { return 200; } }\n").servers
    assert server.match("/c") is None
    assert server.match("/b/") is None


def test_nested_locations_chain_innermost_first(tmp_path):
    [server] = parse(tmp_path, "server {\n  location /a/ {\n    location /a/b/ { return 200; }\n  }\n}\n").servers
    (outer, outer_chain), (inner, inner_chain) = server.locations()
    assert (outer.line, inner.line) == (2, 3)
    assert outer_chain == [outer.block, server.directive.block, server.chain[1]]
    assert inner_chain == [inner.block, outer.block, server.directive.block, server.chain[1]]


def test_passes_in_locations_and_their_ifs(tmp_path):
    nginx = parse(tmp_path, "server {\n  location / {\n    uwsgi_pass web:8000;\n  }\n"
                            "  location /p/ {\n    if ($x) {\n      proxy_pass http://web:8001/p/;\n    }\n  }\n"
                            "  location /empty/ { }\n}\n")
    uwsgi, proxy = nginx.passes()
    assert (uwsgi.kind, uwsgi.directive.line, uwsgi.targets) == ("uwsgi", 3, [Target("web", 8000, "conf0.conf", 3)])
    assert (proxy.kind, proxy.directive.line, proxy.targets) == ("proxy", 7, [Target("web", 8001, "conf0.conf", 7)])
    assert uwsgi.server is nginx.servers[0].directive
    assert uwsgi.chain[0][0] is uwsgi.directive


@pytest.mark.parametrize("address, host, port", [
    ("web:8000", "web", 8000), ("web", "web", 80), ("[::1]:8000", "::1", 8000), ("[::1]", "[::1]", 80),
    ("web:http", "web", None), ("127.0.0.1:9", "127.0.0.1", 9), ("XwebX:8000", "XwebX", 8000),
])
def test_uwsgi_pass_addresses(tmp_path, address, host, port):
    nginx = parse(tmp_path, f"server {{ location / {{ uwsgi_pass {address}; }} }}\n")
    assert targets(nginx) == [[Target(host, port, "conf0.conf", 1)]]


@pytest.mark.parametrize("address", ["unix:/run/web.sock", "unix:///run/web.sock", "http://unix:/run/web.sock:/"])
def test_unix_sockets_have_no_host_or_port(tmp_path, address):
    nginx = parse(tmp_path, f"server {{ location / {{ proxy_pass {address}; }} }}\n")
    assert targets(nginx) == [[Target(None, None, "conf0.conf", 1)]]


def test_an_upstream_gives_its_servers_where_they_are_written(tmp_path):
    nginx = parse(tmp_path, "upstream app {\n  server web:8000;\n  server web2;\n}\n"
                            "server {\n  location / {\n    proxy_pass http://app/x;\n  }\n}\n",
                  "upstream {\n}\n")  # an upstream without a name is an error, and no upstream
    assert list(nginx.upstreams) == ["app"]
    assert nginx.errors == [("conf1.conf", 1, 'invalid number of arguments in "upstream" directive')]
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 2), Target("web2", 80, "conf0.conf", 3)]]


def test_an_upstreams_unix_socket_has_no_host_or_port(tmp_path):
    nginx = parse(tmp_path, "upstream app {\n  server unix:/run/web.sock;\n}\n"
                            "server {\n  location / {\n    uwsgi_pass app;\n  }\n}\n")
    assert targets(nginx) == [[Target(None, None, "conf0.conf", 2)]]


def test_a_variable_is_resolved_from_the_set_nearest_the_pass(tmp_path):
    nginx = parse(tmp_path, "server {\n  set $app web:9000;\n  location / {\n    set $app web:8000;\n"
                            "    set $app web:8002;\n    uwsgi_pass $app;\n  }\n  location /b/ {\n    uwsgi_pass ${app};\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8002, "conf0.conf", 5)], [Target("web", 9000, "conf0.conf", 2)]]


def test_variables_set_from_variables_are_resolved(tmp_path):
    nginx = parse(tmp_path, "server {\n  set $host_ web;\n  set $port_ 8000;\n  set $app ${host_}:$port_;\n"
                            "  location / {\n    proxy_pass http://$app;\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 3)]]


def test_a_variable_set_from_an_upstream_name_gives_its_servers(tmp_path):
    nginx = parse(tmp_path, "upstream app {\n  server web:8000;\n}\n"
                            "server {\n  set $u app;\n  location / {\n    uwsgi_pass $u;\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 2)]]


def test_a_variable_nobody_sets_is_unknown(tmp_path):
    nginx = parse(tmp_path, "server {\n  location / {\n    uwsgi_pass $app;\n  }\n"
                            "  location /b/ {\n    set $other web:1;\n    proxy_pass http://$host;\n  }\n}\n")
    assert targets(nginx) == [None, None]


def test_deeply_chained_variables_stop_after_five_steps(tmp_path):
    sets = "".join(f"  set $v{i} $v{i + 1};\n" for i in range(6)) + "  set $v6 web:8000;\n"
    nginx = parse(tmp_path, "server {\n" + sets + "  location / { uwsgi_pass $v0; }\n}\n")
    [[target]] = targets(nginx)
    assert target.host == "$v5"
    shallow = "".join(f"  set $v{i} $v{i + 1};\n" for i in range(4)) + "  set $v4 web:8000;\n"
    nginx = parse(tmp_path, "server {\n" + shallow + "  location / { uwsgi_pass $v0; }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 6)]]


def test_pasted_characters_are_read_as_their_fix(tmp_path):
    # A non-breaking space between the directive and its value: nginx reads one word; the rules read the fix.
    nginx = parse(tmp_path, "server {\n  location / {\n    uwsgi_pass\u00a0web:8000;\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 3)]]


def test_a_full_width_semicolon_is_read_as_its_fix(tmp_path):
    # crossplane reads `web:8000；` as the address itself (port unknown); the rules read the fix.
    nginx = parse(tmp_path, "server {\n  location / {\n    uwsgi_pass web:8000\uff1b\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 3)]]


def test_a_file_that_is_not_utf8_is_still_read(tmp_path):
    path = tmp_path / "site.conf"
    path.write_bytes(b"# caf\xe9\nserver { location / { uwsgi_pass web:8000; } }\n")
    assert targets(Nginx([(path, "site.conf")])) == [[Target("web", 8000, "site.conf", 2)]]


def test_includes_are_not_followed(tmp_path):
    # The image has /etc/nginx/uwsgi_params; the checked folder does not, and that is no error.
    nginx = parse(tmp_path, "server {\n  location / {\n    include uwsgi_params;\n    uwsgi_pass web:8000;\n  }\n}\n")
    assert nginx.errors == []
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 4)]]


def test_a_pasted_character_is_fixed_under_any_locale(tmp_path):
    with c_locale():
        nginx = parse(tmp_path, "server {\n  # grüße\n  location / {\n    uwsgi_pass web:8000\uff1b\n  }\n}\n")
    assert targets(nginx) == [[Target("web", 8000, "conf0.conf", 4)]]
