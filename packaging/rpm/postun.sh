# dpvs %postun: forget the removed units (dpvsd.service, the keepalived drop-in). On upgrade
# a running dpvsd keeps the old version until `systemctl restart dpvsd` (which restarts
# keepalived too), as with the .deb. /var/lib/dpvsd (the IPVS state) is left in place.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
