# The RangeWatch image: web (gunicorn), Celery workers and beat all run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1

# An unprivileged account runs every process; the code stays root-owned and read-only to it.
RUN groupadd --system --gid 10001 rangewatch \
 && useradd --system --uid 10001 --gid rangewatch --home-dir /app --no-create-home --shell /usr/sbin/nologin rangewatch

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# .dockerignore keeps var/ (database, photos), .env and .git out of this copy.
COPY . .
RUN DJANGO_SETTINGS_MODULE=backend.settings.local RANGEWATCH_VAR_DIR=/tmp/build-var python manage.py collectstatic --no-input \
 && rm -rf /tmp/build-var \
 && mkdir -p /data \
 && chown rangewatch:rangewatch /data

USER rangewatch:rangewatch
EXPOSE 8000
CMD ["gunicorn", "backend.wsgi", "--bind", "0.0.0.0:8000"]
