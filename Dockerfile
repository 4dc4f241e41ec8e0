# syntax=docker/dockerfile:1
# Production image: the API under uvicorn with workers, against an external MongoDB
# (ZSB_MONGODB_URI). The embedded SecantusDB (GPL-2.0) is a dev convenience and is not shipped.
# Nor is the `heic` extra (pillow-heif, whose wheels are GPL-2.0 with x265): HEIC uploads are then
# refused with a hint; docs/applications.md "HEIC" gives the two ways to enable them.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY auth ./auth
COPY matters ./matters
COPY applications ./applications
COPY electronic_cards ./electronic_cards
COPY notifications ./notifications
COPY consoles ./consoles
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ZSB_ENV=production \
    ZSB_OPERATIONS_DIR=/srv/graphql/operations \
    WEB_CONCURRENCY=4
RUN groupadd --system zsb && useradd --system --gid zsb --home-dir /srv --shell /usr/sbin/nologin zsb
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
WORKDIR /srv
COPY graphql ./graphql
USER zsb
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
# ZSB_MONGODB_URI (and ZSB_SECRET_KEY, the SMS gateway…) come from the deployment; the service
# itself also refuses to start in production without them.
CMD ["sh", "-c", ": \"${ZSB_MONGODB_URI:?ZSB_MONGODB_URI is required}\" && exec uvicorn --factory app.main:app_factory --host 0.0.0.0 --port 8000 --workers \"$WEB_CONCURRENCY\" --proxy-headers --forwarded-allow-ips='*' --no-access-log --timeout-graceful-shutdown 20"]
