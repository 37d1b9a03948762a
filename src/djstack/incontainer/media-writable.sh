# In web as its default user: exit 0 when a file can be created in the media folder $1; else say
# who we are and what the folder is, and exit 1.
f=$1/.djstack-doctor-$$
if touch "$f" 2>&1; then rm -f "$f"; exit 0; fi
ls -ldn "$1"
id
exit 1
