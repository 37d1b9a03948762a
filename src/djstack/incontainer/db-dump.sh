# In db: the whole application database as SQL on stdout, consistent while the site writes.
# As root over the socket with the container's own root password (never on a host command line).
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
exec mysqldump -uroot --single-transaction --routines --triggers --events --hex-blob --default-character-set=utf8mb4 "$MYSQL_DATABASE"
