# dpvs %post: load dpvsd.service and the keepalived drop-in into systemd; on first install,
# enable dpvsd as the system's presets say.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset dpvsd.service >/dev/null 2>&1 || :
fi
