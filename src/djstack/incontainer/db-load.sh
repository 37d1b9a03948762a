# In db: replace the application database with the SQL dump on stdin.
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
mysql -uroot -e "DROP DATABASE IF EXISTS \`$MYSQL_DATABASE\`; CREATE DATABASE \`$MYSQL_DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci" && exec mysql -uroot --default-character-set=utf8mb4 "$MYSQL_DATABASE"
