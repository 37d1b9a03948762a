# In db: the server's version (the backup's manifest records it).
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
exec mysql -uroot -N -B -e 'SELECT VERSION()'
