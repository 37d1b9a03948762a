"""The stack's files as their programs read them, one model per kind of file: the compose file,
`.env`, the Django settings web runs, nginx's config, uWSGI's options, MySQL's options and init SQL,
redis.conf, the web image and its start scripts, and the characters pasted into any of them.

Models know nothing of rules: they parse, keep every value's file and line, and answer questions;
the rules (check/rules/) decide what is wrong.
"""
