# In a one-off web container, as web's own user (it owns the folder and, once unpacked, every file:
# no root, no chown, no capability needed): replace the media folder $1 with the tar on stdin.
# Unpacked into a staging folder inside the volume first, then swapped in; prints the number of files.
set -e
cd "$1"
rm -rf .djstack-restore
mkdir .djstack-restore
tar -C .djstack-restore -x -f -
find . -mindepth 1 -maxdepth 1 ! -name .djstack-restore -exec rm -rf {} +
find .djstack-restore -mindepth 1 -maxdepth 1 -exec mv {} . \;
rmdir .djstack-restore
find . -type f | wc -l
