"""Models in hardened containers on a Docker engine.

- `backend`: `DockerBackend` (containers with no network, read-only, limited, unprivileged);
- `images`: the base image (debootstrap), a runtime image per requirement set, a thin image
  per model version, and the app's image for compose;
- `socket_bridge`: a TCP-to-Unix-socket pipe on the stdlib alone, the same file on the host and
  in the image: the one way into a container.
"""
