#!/bin/sh
# SPDX-License-Identifier: MIT
# gafferd must not link libcurl: lib/webhook loads it at run time, only when [webhooks] are
# set (lib/webhook/curl_api.h), because libcurl and what it pulls in were most of the
# daemon's resident memory. Fails if libcurl is a DT_NEEDED entry of gafferd, or if it or a
# library that only libcurl brings (SSH, LDAP, RTMP, Kerberos, HTTP/2, psl, brotli) is in
# the set of libraries loaded at start-up. Usage: daemon_libs.sh GAFFERD
set -eu
gafferd="$1"
for tool in readelf ldd; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "$tool is missing (package binutils / libc-bin)" >&2
        exit 1
    fi
done
needed=$(readelf -d "$gafferd" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
if [ -z "$needed" ]; then
    echo "readelf found no DT_NEEDED entry in $gafferd" >&2
    exit 1
fi
status=0
bad=$(printf '%s\n' "$needed" | grep -E '^libcurl' || true)
if [ -n "$bad" ]; then
    echo "gafferd links $bad (DT_NEEDED); lib/webhook must load libcurl at run time (curl_api.h)"
    status=1
fi
loaded=$(ldd "$gafferd" | awk '{print $1}')
bad=$(printf '%s\n' "$loaded" | grep -E '^lib(curl|ssh2|ldap|lber|rtmp|gssapi_krb5|krb5|nghttp2|psl|brotli|sasl2)[-.]' || true)
if [ -n "$bad" ]; then
    echo "gafferd loads at start-up:" $bad "(libcurl's dependencies; is something linking libcurl?)"
    status=1
fi
if [ "$status" -eq 0 ]; then
    echo "daemon libs: ok (" $needed ")"
fi
exit "$status"
