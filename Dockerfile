# The one image every service of docker-compose.yml runs, each with its own `spocc` command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH SPOCC_DATA_DIR=/var/lib/spocc
RUN pip install --no-cache-dir uv && useradd --system --home /var/lib/spocc spocc \
    && mkdir -p /var/lib/spocc && chown spocc /var/lib/spocc
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev
USER spocc
CMD ["spocc", "--help"]
