# Asterisk 16.28 (Debian 11's security suite: Debian 12 has no asterisk package) on Debian 12, with Debian's stock
# configuration plus an #include of the snippets `flowengine asterisk render-conf` writes (into a volume mounted at
# /run/flowengine-snippets, copied to /etc/asterisk/flowengine at start; see docker/compose.yaml).
# Build: docker build -f docker/asterisk.Dockerfile -t flowengine-asterisk docker
FROM debian:12-slim
RUN printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bullseye-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      > /etc/apt/sources.list.d/bullseye.sources \
 && printf 'Package: *\nPin: release n=bullseye\nPin-Priority: 100\n\nPackage: *\nPin: release n=bullseye-security\nPin-Priority: 100\n' \
      > /etc/apt/preferences.d/bullseye \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      asterisk asterisk-modules asterisk-core-sounds-en-gsm asterisk-moh-opsound-gsm \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /etc/asterisk/flowengine \
 && for f in ari http extensions; do printf '\n#tryinclude "flowengine/%s.conf"\n' "$f" >> "/etc/asterisk/$f.conf"; done
# SIP; ARI (http.conf, from the snippet); RTP (Debian's rtp.conf: 10000-20000)
EXPOSE 5060/udp 8088/tcp 10000-20000/udp
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s CMD asterisk -rx "core show uptime" | grep -q "System uptime"
# The snippets arrive in a volume written by another container (root-owned): copied for Asterisk's group at each
# start (ari.conf holds the ARI password, 0640), then Asterisk runs as its own user.
CMD ["sh", "-c", "install -m 0640 -o root -g asterisk /run/flowengine-snippets/*.conf /etc/asterisk/flowengine/ && exec asterisk -f -U asterisk -G asterisk"]
