# The bungeo web and worker image for 'docker compose up' (production draft). The sandbox engine
# is NOT in here: it runs on the host (see docs/operations.md) and is reached through its socket.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends gettext iproute2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml ./
COPY webapp ./webapp
COPY labs ./labs
COPY exercises ./exercises
RUN pip install --no-cache-dir -e .
COPY . .
RUN python manage.py compilemessages -l ko -v 0 && python manage.py collectstatic --noinput -v 0
EXPOSE 8000
CMD ["uvicorn", "webapp.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--ws", "websockets-sansio", "--timeout-graceful-shutdown", "5"]
