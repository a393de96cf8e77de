# dpvs %preun: on erase (not upgrade), disable and stop dpvsd (keepalived, which Requires= it
# through the drop-in, stops too; start it again to run it on the kernel's IPVS).
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now dpvsd.service >/dev/null 2>&1 || :
fi
