# In db: a MySQL shell as the application's user; the credentials are already in db's environment.
MYSQL_PWD="$MYSQL_PASSWORD" exec mysql -h 127.0.0.1 -u "$MYSQL_USER" "$MYSQL_DATABASE"
