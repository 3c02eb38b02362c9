#!/usr/bin/env bash
# Deploys k8s/ with kustomize and verifies it: rollout, replicas, HPA, PDB, then the status
# RPC through a port-forward.
#   scripts/deploy.sh [image]        e.g. registry.example.com/nexus-prime:0.1.0
set -euo pipefail
cd "$(dirname "$0")/.."
ns=nexus-prime
fail() { echo "deploy: $*" >&2; exit 1; }

command -v kubectl >/dev/null || fail "kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)"
kubectl version --request-timeout=5s >/dev/null 2>&1 || fail "no cluster reachable: check 'kubectl config current-context'"
if grep -q 'change-me' k8s/redis-credentials.env; then
  fail "set a real password in k8s/redis-credentials.env first (URL-safe characters only)"
fi
tmp=$(mktemp -d)
pf=
cleanup() { [ -n "$pf" ] && kill "$pf" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# Render from a copy so an image override never edits the checked-in kustomization.
cp -r k8s/. "$tmp/"
if [ -n "${1:-}" ]; then
  sed -i "s#newName: nexus-prime#newName: ${1%:*}#; s#newTag: .*#newTag: ${1##*:}#" "$tmp/kustomization.yaml"
fi
dir=$tmp

kubectl apply -k "$dir" || fail "kubectl apply failed (see above)"
kubectl -n $ns rollout status statefulset/redis --timeout=180s || fail "redis did not become ready: kubectl -n $ns describe pod -l app.kubernetes.io/name=redis"
kubectl -n $ns rollout status deployment/nexus-orchestrator --timeout=300s || fail "orchestrators did not roll out: kubectl -n $ns describe pod -l app.kubernetes.io/name=nexus-orchestrator"

ready=$(kubectl -n $ns get deployment nexus-orchestrator -o jsonpath='{.status.readyReplicas}')
[ "${ready:-0}" -ge 3 ] || fail "only ${ready:-0} orchestrators ready (want >= 3)"
kubectl -n $ns get hpa nexus-orchestrator >/dev/null || fail "HPA missing"
kubectl -n $ns get pdb nexus-orchestrator -o jsonpath='{.spec.minAvailable}' | grep -qx 2 || fail "PDB minAvailable is not 2"
echo "deploy: $ready orchestrators ready; HPA and PDB in place"

kubectl -n $ns port-forward svc/nexus-orchestrator 50051:50051 >/dev/null 2>&1 &
pf=$!
sleep 2
if command -v grpcurl >/dev/null; then
  grpcurl -plaintext -d '{"summaryOnly":true}' localhost:50051 nexus.prime.NexusPulseService/GetSystemStatus || fail "GetSystemStatus failed through the port-forward"
else
  echo "deploy: grpcurl not installed; check by hand: grpcurl -plaintext -d '{\"summaryOnly\":true}' localhost:50051 nexus.prime.NexusPulseService/GetSystemStatus"
fi
