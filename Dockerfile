# The detector's image: `docker build -t insider-detector .`
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY detector ./detector
COPY models ./models
COPY consumers ./consumers
RUN pip install --no-compile . && rm -rf /root/.cache

COPY config ./config
# No root, no shell history, nothing writable but the state dir.
RUN useradd --system --uid 10001 --home-dir /app detector && mkdir -p /var/lib/insider \
    && chown detector /var/lib/insider
USER detector

EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["insider-detector"]
CMD ["run", "--config", "/app/config/detector.toml"]
