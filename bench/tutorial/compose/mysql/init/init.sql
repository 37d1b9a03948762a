-- compose/mysql/init/init.sql (the tutorial's, step 4; a benchmark fixture)
-- Change: MariaDB spells "IDENTIFIED WITH plugin BY 'pw'" as "IDENTIFIED VIA plugin USING PASSWORD('pw')".
Alter user 'dbuser'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('password');
GRANT ALL PRIVILEGES ON myproject.* TO 'dbuser'@'%';
FLUSH PRIVILEGES;
