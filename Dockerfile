# One image for the three services; the command picks the service.
FROM python:3.11-slim-bookworm AS build
ENV UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY shared ./shared
COPY services ./services
COPY otayori ./otayori
COPY tools ./tools
COPY templates ./templates
COPY config ./config
# Not editable: an editable install's .pth would point at /src, which the final image
# does not have. The code and its templates are read from /app (PYTHONPATH below), so the
# `otayori` console script and `python -m ...` run the same files.
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 otayori
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src /app
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH PYTHONPATH=/app PYTHONUNBUFFERED=1
USER 10001
EXPOSE 8080
ENTRYPOINT ["python", "-m"]
CMD ["services.mailer"]
