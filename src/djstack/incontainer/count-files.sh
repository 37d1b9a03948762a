# The number of files under $1.
find "$1" -type f | wc -l
