#!/bin/bash
# The tutorial's start.sh (step 2), a benchmark fixture. Change: the media volume is handed to
# www-data (uWSGI's uid), or every upload fails with "Permission denied".
while ! nc -z db 3306 ; do
    echo "Waiting for the MySQL Server"
    sleep 3
done

chown www-data:www-data media

python manage.py collectstatic --noinput&&
python manage.py makemigrations&&
python manage.py migrate&&
uwsgi --ini /var/www/html/myproject/uwsgi.ini&&
tail -f /dev/null

exec "$@"
