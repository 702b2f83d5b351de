#!/bin/sh
# Saved on Windows: every line ends in CR LF.
exec node app.js
