# Flywheel from its wheel: a build stage makes the wheel, the runtime stage installs only it.
# docker build -t flywheel . && docker run -p 8080:8080 -v flywheel-data:/data --env-file .env flywheel
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY templates ./templates
COPY workflow-config ./workflow-config
RUN pip install --no-cache-dir build==1.3.0 \
    && python -m build --wheel --outdir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 flywheel \
    && mkdir /data \
    && chown flywheel /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels
USER 10001
WORKDIR /home/flywheel
# The journal, the request index and the facts: keep them on a volume across restarts.
ENV FLYWHEEL_DB=/data/flywheel.db \
    PORT=8080 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
CMD ["flywheel", "serve"]
