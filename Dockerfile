# One image for web, worker, beat and the sandbox (see docker-compose.yml).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DASH_VAR_DIR=/app/var
WORKDIR /app
# Everything but what .dockerignore leaves out (local state, tests, benchmarks): a new app needs no line here.
COPY . ./
RUN pip install --no-cache-dir . \
 && DASH_ENV=production SECRET_KEY=build-only-not-secret-build-only-not-secret-000000 \
    FIELD_ENCRYPTION_KEY=ZmFrZS1idWlsZC1rZXktMzItYnl0ZXMtbG9uZy4uLi4= python manage.py collectstatic --noinput \
 && useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", \
     "--logger-class", "config.access_log.GunicornLogger"]
