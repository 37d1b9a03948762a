# In nginx: every process as "PID COMMAND LINE" (the image has no ps).
for p in /proc/[0-9]*; do printf "%s %s\n" "${p#/proc/}" "$(tr "\0" " " < $p/cmdline)"; done
