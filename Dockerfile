# The hub (and the simulators, same image). Built by docker compose.

# The dashboard's browser libraries (Leaflet, its marker clustering, uPlot), from npm as
# the lock file says; not the test-only axe-core (a dev dependency).
FROM node:20-slim AS dashboard
WORKDIR /build
COPY hub/dashboard/package.json hub/dashboard/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim

RUN useradd --system --uid 10001 --home-dir /app hub
WORKDIR /app
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY --from=dashboard /build/node_modules ./hub/dashboard/node_modules
COPY simulators ./simulators
COPY device_profiles ./device_profiles
RUN pip install --no-cache-dir .

ENV HUB_PROFILES_DIR=/app/device_profiles \
    HUB_API_HOST=0.0.0.0 \
    HUB_LOG_FORMAT=json
USER hub
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"
CMD ["sh", "-c", "hub migrate && exec hub run"]
