# In db: the application database's tables, one a line.
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
exec mysql -uroot -N -B -e "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA='$MYSQL_DATABASE' AND TABLE_TYPE='BASE TABLE'"
