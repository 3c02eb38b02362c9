#!/usr/bin/env bash
# Builds the image and smoke-tests it: Redis + one orchestrator container, then the image's
# own grpc_health_probe checks liveness and readiness, and the agent entry point runs.
#   scripts/docker-smoke.sh [image-tag]
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-nexus-prime:smoke}
fail() { echo "docker-smoke: $*" >&2; exit 1; }

command -v docker >/dev/null || fail "docker is not installed; run this where Docker is (the image cannot be built here otherwise)"
docker info >/dev/null 2>&1 || fail "no Docker engine reachable (docker info failed): start the daemon or point DOCKER_HOST at one"

net=nexus-smoke-$$
cleanup() { docker rm -f "$net-redis" "$net-orch" >/dev/null 2>&1 || true; docker network rm "$net" >/dev/null 2>&1 || true; }
trap cleanup EXIT

echo "building $tag ..."
docker build -t "$tag" . || fail "docker build failed (see above)"
docker network create "$net" >/dev/null
docker run -d --name "$net-redis" --network "$net" redis:7.2.5-bookworm >/dev/null
docker run -d --name "$net-orch" --network "$net" --read-only --tmpfs /tmp \
  -e REDIS_URL="redis://$net-redis:6379/0" -e REPLICA_ID=smoke "$tag" >/dev/null

for _ in $(seq 1 30); do
  if docker exec "$net-orch" /bin/grpc_health_probe -addr=:50051 -service=nexus.prime.NexusPulseService >/dev/null 2>&1; then
    docker exec "$net-orch" /bin/grpc_health_probe -addr=:50051
    docker exec "$net-orch" /bin/grpc_health_probe -addr=:50051 -service=nexus.prime.NexusPulseService
    docker run --rm "$tag" nexus-agent --help | head -1
    [ "$(docker inspect -f '{{.Config.User}}' "$tag")" = "1000:1000" ] || fail "image does not run as 1000:1000"
    echo "docker-smoke: ok ($tag runs read-only as non-root, probes SERVING)"
    exit 0
  fi
  sleep 1
done
docker logs "$net-orch" | tail -20 >&2
fail "orchestrator never became ready (logs above)"
