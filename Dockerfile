# syntax=docker/dockerfile:1
# The broker image: `docker build -t keb .` then `docker run -p 8080:8080 keb` for the embedded default,
# or the manifests in deploy/ for a Kyma control plane.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package, its server extra and their pinned dependencies in a virtual environment ---
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/keb \
    && /opt/keb/bin/pip install --quiet "pip==25.3"
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/keb/bin/pip install --quiet '.[server]' \
    && /opt/keb/bin/python -m compileall -q /opt/keb/lib

# --- runtime: the virtual environment only, as an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="keb" \
      org.opencontainers.image.description="Kyma Environment Broker: an Open Service Broker for Kyma runtimes" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 keb \
    && useradd --system --uid 10001 --gid keb --home-dir /var/lib/keb --create-home --shell /usr/sbin/nologin keb
COPY --from=build /opt/keb /opt/keb
ENV PATH=/opt/keb/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_BROKER_HOST=0.0.0.0 \
    APP_BROKER_PORT=8080 \
    APP_DATA_DIR=/var/lib/keb
USER 10001:10001
WORKDIR /var/lib/keb
# 8080: OSB and inventory API; 8071: the status port (APP_BROKER_STATUS_PORT) with /healthz, /readyz, /metrics.
EXPOSE 8080 8071
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8071/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["keb"]
CMD ["serve"]
