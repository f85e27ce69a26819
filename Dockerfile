# syntax=docker/dockerfile:1
# One image for every logetl role (api, worker, migrate, keys, schedules, ...): the command is
# the container's arguments. Static build, distroless runtime, non-root user.

FROM golang:1.27.3-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" \
      -o /out/logetl ./cmd/logetl && \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/httpcheck ./deploy/httpcheck && \
    mkdir -p /out/data/keys

# Setup stage for one-shot jobs that need a shell around logetl (compose's `keys` service creates
# the keyring only when it is missing). Not the default target.
FROM busybox:1.37 AS setup
COPY --from=build /out/logetl /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/data /var/lib/logetl
ENV LOGETL_DATA_DIR=/var/lib/logetl
USER 65532:65532
ENTRYPOINT ["/bin/sh", "-c"]

# Runtime: the default target, used by api and worker.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=build /out/logetl /out/httpcheck /usr/local/bin/
# The data folder (and keys/, where a compose volume keeps the keyring) must belong to the
# runtime user: distroless has no shell to chown it later, and a new volume copies this owner.
COPY --from=build --chown=65532:65532 /out/data /var/lib/logetl
ENV LOGETL_DATA_DIR=/var/lib/logetl \
    LOGETL_LOG_FORMAT=json
USER 65532:65532
WORKDIR /var/lib/logetl
EXPOSE 8080 9464
ENTRYPOINT ["/usr/local/bin/logetl"]
CMD ["--help"]
