#!/bin/sh
# One terminal of this sandbox. socat (started by bungeo-entry) runs this for each connection to
# /run/bungeo-host/term.sock, on a new pty that is its controlling terminal, with echo off.
# bungeo first sends one line, "<cols> <rows> <token>": the pty takes that size, the token names
# a file holding this terminal's pid (bungeo resizes the pty through /proc/<pid>/fd/0), and tmux
# attaches to the learner's session. When bungeo closes the connection, socat closes the pty: the
# tmux client gets a hang-up and ends, the session and the learner's shell keep running.
set -u
IFS=' ' read -r cols rows token || exit 0
case $cols in ''|*[!0-9]*) exit 0 ;; esac
case $rows in ''|*[!0-9]*) exit 0 ;; esac
case $token in ''|*[!0-9a-f]*) exit 0 ;; esac
d=/run/bungeo-terminals
mkdir -p "$d"
for f in "$d"/*; do  # pid files of terminals that ended
  [ -f "$f" ] && { kill -0 "$(cat "$f")" 2>/dev/null || rm -f "$f"; }
done
echo $$ > "$d/$token"
stty echo cols "$cols" rows "$rows"
cd "$HOME" 2>/dev/null || cd /
export TERM=xterm-256color LANG=C.UTF-8
exec tmux -u new-session -A -s main
