# Kamailio from Debian 12's package, in front of the Asterisk servers (dispatcher with OPTIONS probing).
# Its configuration is mounted at /etc/kamailio/flowengine: kamailio.cfg rendered from
# asterisk-conf/kamailio/kamailio.cfg and its dispatcher list (docs/deploy.md, "Kamailio in front").
# Build: docker build -f docker/kamailio.Dockerfile -t flowengine-kamailio docker
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends kamailio \
 && rm -rf /var/lib/apt/lists/*
EXPOSE 5060/udp
CMD ["kamailio", "-DD", "-E", "-f", "/etc/kamailio/flowengine/kamailio.cfg"]
