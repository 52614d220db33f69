# Orthanc for the `scale` profile of docker-compose.yml: Debian's Orthanc with its index and DICOM
# files in PostgreSQL (package orthanc-postgresql), plus the DICOMweb and GDCM plugins. The same
# orthanc.json and Lua webhook as the single-machine Orthanc; postgresql.json adds the plugins and the
# database. The database password comes from the Docker secret postgres_password (never the image).
# Build: docker build -f orthanc-config/orthanc-postgresql.Dockerfile -t pulse-orthanc-postgresql orthanc-config
FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends orthanc orthanc-dicomweb orthanc-gdcm orthanc-postgresql \
  && rm -rf /var/lib/apt/lists/*
# Our own configuration folder: Debian's /etc/orthanc holds sample files whose sections would clash.
COPY orthanc.json pulse-webhook.lua postgresql.json /etc/orthanc-pulse/
RUN sed -i 's#/etc/orthanc/pulse-webhook.lua#/etc/orthanc-pulse/pulse-webhook.lua#' /etc/orthanc-pulse/orthanc.json \
  && mkdir -p /var/lib/orthanc/db && chown -R orthanc:orthanc /var/lib/orthanc
USER orthanc
EXPOSE 4242 8042
# Orthanc substitutes ${ORTHANC_POSTGRESQL_PASSWORD} in postgresql.json from the environment.
ENTRYPOINT ["/bin/sh", "-c", "ORTHANC_POSTGRESQL_PASSWORD=\"$(cat /run/secrets/postgres_password)\" exec Orthanc /etc/orthanc-pulse/"]
