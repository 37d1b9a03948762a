"""Benchmark ceiling: the smallest WSGI app, a constant response, run by djstack's uWSGI config."""

BODY = b"<!doctype html><title>ceiling</title><p>constant response</p>\n"


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(BODY)))])
    return [BODY]
