# syntax=docker/dockerfile:1
# One image, both programs: `nexus-orchestrator` (default) and `nexus-agent`.
#   docker build -t nexus-prime .
#   docker run nexus-prime                    # orchestrator
#   docker run nexus-prime nexus-agent        # agent
ARG NODE_IMAGE=node:20.20.2-bookworm-slim
ARG GO_IMAGE=golang:1.22.12-bookworm
ARG GRPC_HEALTH_PROBE_VERSION=v0.4.24

# 1. grpc_health_probe at a pinned release tag. `go install` checks the module and every
#    dependency against the Go checksum database (sum.golang.org) before building, so the
#    binary is built from exactly the published, checksummed source of that release.
FROM ${GO_IMAGE} AS probe
ARG GRPC_HEALTH_PROBE_VERSION
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go install github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION} \
 && cp /go/bin/grpc-health-probe /grpc_health_probe \
 && /grpc_health_probe -version

# 2. Build: install with dev dependencies, check the committed generated code is current,
#    compile, then drop dev dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json buf.yaml buf.gen.yaml ./
COPY proto ./proto
COPY src ./src
COPY scripts ./scripts
RUN npm run check:generated \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts

# 3. Runtime: slim Node 20, no build tools, non-root, nothing written to the root filesystem
#    (logs go to stdout), so `readOnlyRootFilesystem: true` works.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=probe /grpc_health_probe /bin/grpc_health_probe
RUN ln -s /app/dist/src/orchestrator/main.js /usr/local/bin/nexus-orchestrator \
 && ln -s /app/dist/src/agent/main.js /usr/local/bin/nexus-agent \
 && ln -s /app/dist/src/cli/main.js /usr/local/bin/nexusctl
# The node image's unprivileged user; numeric so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 50051 9090 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/bin/grpc_health_probe", "-addr=:50051"]
CMD ["nexus-orchestrator"]
