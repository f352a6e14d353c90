#!/bin/sh
# Runs "$@" as a child (fork + exec, not exec): Linux carries a process's peak
# RSS (getrusage ru_maxrss) across execve, so a terelay exec'd straight from a
# large Python parent reports the parent's peak as its rss_peak_kb. The peer
# flood measures terelay's own peak through this wrapper.
"$@"
