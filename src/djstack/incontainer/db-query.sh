# In db: run the SQL on stdin in the application database, results without headers.
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
exec mysql -uroot -N -B "$MYSQL_DATABASE"
