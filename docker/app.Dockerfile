# The sandbox app (and, in compose.yaml, the MLflow tracking server), built hermetically:
# every Python package comes from the wheelhouse `python -m staging app-image` downloads
# on the host. The wheelhouse stays in the image so the app can assemble model images'
# wheelhouses from it with no network (pip is pointed at it).
ARG BASE=staging-sandbox/python:3.11-bookworm
FROM ${BASE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PIP_NO_INDEX=1 PIP_FIND_LINKS=/wheelhouse \
    PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY .app-wheelhouse/ /wheelhouse/
RUN python3 -m venv /opt/venv && pip install --no-cache-dir -r /wheelhouse/requirements.txt
WORKDIR /app
COPY requirements.txt streamlit_app.py ./
COPY app_pages/ app_pages/
COPY staging/ staging/
COPY services/ services/
COPY sample_data/ sample_data/
# The app and the tracking server run as an unprivileged user: in compose neither holds the
# Docker socket (the engine proxy does) and each writes only its volume under /data.
RUN useradd --uid 10002 --no-create-home --shell /usr/sbin/nologin sandbox \
 && mkdir -p /data/home && chown -R 10002:10002 /data
ENV HOME=/tmp
USER 10002
EXPOSE 8501
CMD ["streamlit", "run", "streamlit_app.py", "--server.address", "0.0.0.0", "--server.headless", "true", \
     "--browser.gatherUsageStats", "false"]
