#!/bin/sh
# stdin -> stdout: a contrib file as `make install` installs it, naming the installed binary.
#   podman PATH:     the drop-in's [engine.runtimes] list gets PATH first, unless it has it;
#   containerd PATH: /usr/local/sbin/skiff (make install's default) becomes PATH.
set -eu
mode=$1 path=$2
case $mode in
  podman)
    awk -v p="\"$path\"" '
      { lines[NR] = $0; if (index($0, p)) have = 1 }
      END {
        for (i = 1; i <= NR; i++) {
          print lines[i]
          if (!have && lines[i] ~ /^skiff = \[/) print "  " p ","
        }
      }' ;;
  containerd)
    sed "s|/usr/local/sbin/skiff|$path|g" ;;
  *)
    echo "usage: $0 podman|containerd PATH < file" >&2
    exit 2 ;;
esac
