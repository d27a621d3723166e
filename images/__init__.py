"""Recipes and a builder that make the seed's example images from Debian packages, offline.

The examples name Docker Hub images (`nginx`, `busybox:1.28`, `redis`, `malexer/twemproxy`,
`bbachin1/adapter-node-server`). Where Docker Hub cannot be reached these recipes rebuild each
one from Debian packages (which apt can still fetch) into a one-layer OCI archive that behaves like
the original: same entrypoint, command, ports and working directory. `python -m images.build` is
the command; `images/README.md` says how to use it.
"""
