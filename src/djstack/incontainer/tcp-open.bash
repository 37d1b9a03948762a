# In nginx (bash): exit 0 when a TCP connection to host $1, port $2 opens.
exec 3<>/dev/tcp/$1/$2
