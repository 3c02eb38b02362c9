import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { Namespace, ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { AGENT_VARIABLES } from '../../src/agent/config';
import { compileOrchestratorConfig, ORCHESTRATOR_VARIABLES } from '../../src/orchestrator/config';
import { READINESS_SERVICE } from '../../src/orchestrator/grpc-server';

const K8S = join(__dirname, '..', '..', 'k8s');
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: Record<string, string> };

const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  'v1/Namespace': Namespace, 'v1/ConfigMap': ConfigMap, 'v1/Service': Service, 'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment, 'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler, 'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
};

const kustomization = parseAllDocuments(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8'))[0].toJS() as { resources: string[]; namespace: string };
const objects: Obj[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readFileSync(join(K8S, file), 'utf8')).map((d) => d.toJS() as Obj),
);
const find = (kind: string, name: string): Obj => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const orchestrator = find('Deployment', 'nexus-orchestrator');
const container = orchestrator.spec.template.spec.containers[0];
const config = find('ConfigMap', 'nexus-orchestrator').data!;
const defaults = compileOrchestratorConfig({});

describe('k8s manifests', () => {
  it('list every manifest file in kustomization.yaml, all in namespace nexus-prime', () => {
    const files = readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.namespace).toBe('nexus-prime');
    for (const o of objects) if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('nexus-prime');
  });

  it('validate against the Kubernetes schemas (offline, kubernetes-models)', () => {
    for (const o of objects) {
      const Model = MODELS[`${o.apiVersion}/${o.kind}`];
      expect(Model, `${o.apiVersion} ${o.kind} has a schema here`).toBeDefined();
      expect(() => new Model(o).validate(), `${o.kind} ${o.metadata.name}`).not.toThrow();
    }
  });

  it('select the pods they mean', () => {
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet')) {
      expect(matches(o.spec.selector.matchLabels, o.spec.template.metadata.labels), `${o.kind} ${o.metadata.name}`).toBe(true);
    }
    const pods = orchestrator.spec.template.metadata.labels;
    expect(matches(find('Service', 'nexus-orchestrator').spec.selector, pods)).toBe(true);
    expect(matches(find('PodDisruptionBudget', 'nexus-orchestrator').spec.selector.matchLabels, pods)).toBe(true);
    expect(matches(find('NetworkPolicy', 'nexus-orchestrator').spec.podSelector.matchLabels, pods)).toBe(true);
    expect(matches(orchestrator.spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchLabels, pods)).toBe(true);
    const redisPods = find('StatefulSet', 'redis').spec.template.metadata.labels;
    expect(matches(find('Service', 'redis').spec.selector, redisPods)).toBe(true);
    expect(matches(find('NetworkPolicy', 'redis').spec.podSelector.matchLabels, redisPods)).toBe(true);
    // The orchestrator policy admits agents by the label the example agents carry.
    const agentPods = find('Deployment', 'nexus-agent').spec.template.metadata.labels;
    expect(matches(find('NetworkPolicy', 'nexus-orchestrator').spec.ingress[0].from[0].podSelector.matchLabels, agentPods)).toBe(true);
    expect(find('HorizontalPodAutoscaler', 'nexus-orchestrator').spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'nexus-orchestrator' });
  });

  it('use the ports, probes and service name the code defaults to', () => {
    const ports = Object.fromEntries(container.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(ports).toEqual({ grpc: defaults.grpcPort, metrics: defaults.metricsPort, console: defaults.consolePort });
    expect(Number(config.GRPC_PORT)).toBe(defaults.grpcPort);
    expect(Number(config.METRICS_PORT)).toBe(defaults.metricsPort);
    expect(Number(config.CONSOLE_PORT)).toBe(defaults.consolePort);
    expect(container.livenessProbe.exec.command).toEqual(['/bin/grpc_health_probe', `-addr=:${defaults.grpcPort}`]);
    expect(container.readinessProbe.exec.command).toEqual(['/bin/grpc_health_probe', `-addr=:${defaults.grpcPort}`, `-service=${READINESS_SERVICE}`]);
    const svc = find('Service', 'nexus-orchestrator');
    expect(svc.spec.clusterIP).toBe('None');
    expect(svc.spec.ports.map((p: { port: number }) => p.port)).toEqual([defaults.grpcPort, defaults.metricsPort, defaults.consolePort]);
    expect(orchestrator.spec.template.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(defaults.metricsPort) });
  });

  it('give a draining replica time: termination grace > shutdown grace > drain window', () => {
    const settings = compileOrchestratorConfig(config);
    expect(orchestrator.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(settings.shutdownGraceMs);
    expect(settings.shutdownGraceMs).toBeGreaterThan(settings.drainWindowMs);
  });

  it('keep PDB minAvailable < replicas <= HPA max, and HPA min = replicas', () => {
    const hpa = find('HorizontalPodAutoscaler', 'nexus-orchestrator').spec;
    const pdb = find('PodDisruptionBudget', 'nexus-orchestrator').spec;
    expect(pdb.minAvailable).toBeLessThan(orchestrator.spec.replicas);
    expect(orchestrator.spec.replicas).toBeLessThanOrEqual(hpa.maxReplicas);
    expect(hpa.minReplicas).toBe(orchestrator.spec.replicas);
    expect(orchestrator.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    expect(hpa.behavior.scaleDown.stabilizationWindowSeconds).toBe(300);
  });

  it('run unprivileged with a read-only root and no service account token', () => {
    for (const o of objects.filter((x) => x.kind === 'Deployment' || x.kind === 'StatefulSet')) {
      const pod = o.spec.template.spec;
      expect(pod.automountServiceAccountToken, o.metadata.name).toBe(false);
      expect(pod.securityContext.runAsNonRoot, o.metadata.name).toBe(true);
      for (const c of pod.containers) {
        expect(c.securityContext, `${o.metadata.name}/${c.name}`).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources.requests && c.resources.limits, `${o.metadata.name}/${c.name} resources`).toBeTruthy();
      }
    }
    expect((find('ServiceAccount', 'nexus-orchestrator') as unknown as { automountServiceAccountToken: boolean }).automountServiceAccountToken).toBe(false);
  });

  it('set only variables the programs read (helpers only for $(VAR) expansion)', () => {
    const check = (env: { name: string; value?: string }[], known: readonly string[]) => {
      const expanded = new Set(env.flatMap((e) => [...(e.value ?? '').matchAll(/\$\((\w+)\)/g)].map((m) => m[1])));
      for (const e of env) expect(known.includes(e.name) || expanded.has(e.name), `${e.name} is neither a setting nor used by another`).toBe(true);
    };
    check(container.env, ORCHESTRATOR_VARIABLES);
    for (const key of Object.keys(config)) expect(ORCHESTRATOR_VARIABLES, key).toContain(key);
    expect(() => compileOrchestratorConfig(config)).not.toThrow();
    const agent = find('Deployment', 'nexus-agent').spec.template.spec.containers[0];
    check(agent.env, AGENT_VARIABLES);
    expect(agent.env.find((e: { name: string }) => e.name === 'ORCHESTRATOR_HOST').value).toBe('dns:///nexus-orchestrator.nexus-prime.svc.cluster.local:50051');
    expect(agent.args).toEqual(['nexus-agent']);
    expect(container.args).toEqual(['nexus-orchestrator']);
  });

  it('point REDIS_URL at the Redis Service, whose pods run AOF everysec with a password from a Secret', () => {
    const url = new URL(container.env.find((e: { name: string }) => e.name === 'REDIS_URL').value.replace('$(REDIS_PASSWORD)', 'x'));
    const [svcName, ns] = url.hostname.split('.');
    const redisSvc = find('Service', svcName);
    expect(redisSvc.metadata.namespace).toBe(ns);
    expect(url.hostname).toBe(`${svcName}.${ns}.svc.cluster.local`);
    expect(redisSvc.spec.ports.map((p: { port: number }) => p.port)).toContain(Number(url.port));
    expect(url.username).toBe('nexus');
    const redis = find('StatefulSet', 'redis').spec;
    expect(redis.template.spec.containers[0].args.join(' ')).toMatch(/--appendonly yes --appendfsync everysec/);
    expect(redis.template.spec.containers[0].args.join(' ')).toMatch(/--user default off --user nexus on >\$\(REDIS_PASSWORD\) ~nexus:\* &nexus:\*/);
    expect(redis.volumeClaimTemplates[0].metadata.name).toBe('data');
    for (const c of [container, redis.template.spec.containers[0]]) {
      expect(c.env.find((e: { name: string }) => e.name === 'REDIS_PASSWORD').valueFrom.secretKeyRef.name).toBe('redis-credentials');
    }
  });
});

describe('Dockerfile', () => {
  const root = join(__dirname, '..', '..');
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n');

  it('has the probe, build and runtime stages from pinned images', () => {
    const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect(args.NODE_IMAGE).toMatch(/^node:20\.\d+\.\d+-bookworm-slim$/);
    expect(args.GO_IMAGE).toMatch(/^golang:\d+\.\d+\.\d+-bookworm$/);
    expect(args.GRPC_HEALTH_PROBE_VERSION).toMatch(/^v\d+\.\d+\.\d+$/);
    expect([...dockerfile.matchAll(/^FROM (\S+) AS (\w+)$/gm)].map((m) => [m[1], m[2]])).toEqual([
      ['${GO_IMAGE}', 'probe'], ['${NODE_IMAGE}', 'build'], ['${NODE_IMAGE}', 'runtime'],
    ]);
    expect(dockerfile).not.toMatch(/:latest\b|@latest\b/);
    expect(dockerfile).toContain('go install github.com/grpc-ecosystem/grpc-health-probe@${GRPC_HEALTH_PROBE_VERSION}');
  });

  it('builds with dev dependencies, then prunes them; runs as a numeric non-root user with the probe and a health check', () => {
    expect(dockerfile).toMatch(/npm ci --ignore-scripts/);
    expect(dockerfile).toMatch(/npm run check:generated/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    expect(runtime).toMatch(/^USER (\d+):(\d+)$/m);
    expect(Number(/^USER (\d+)/m.exec(runtime)![1])).toBeGreaterThan(0);
    expect(runtime).toContain('COPY --from=probe /grpc_health_probe /bin/grpc_health_probe');
    expect(runtime).toMatch(/HEALTHCHECK[\s\S]*CMD \["\/bin\/grpc_health_probe", "-addr=:50051"\]/);
    expect(runtime).toMatch(/^CMD \["nexus-orchestrator"\]$/m);
  });

  it('copies only sources that exist, and links entry points the build produces', () => {
    for (const line of lines.filter((l) => /^COPY (?!--from)/.test(l))) {
      const parts = line.replace(/^COPY /, '').split(/\s+/);
      for (const source of parts.slice(0, -1)) expect(existsSync(join(root, source)), `COPY ${source}`).toBe(true);
    }
    const bins = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin as Record<string, string>;
    for (const [name, path] of Object.entries(bins)) {
      expect(dockerfile).toContain(`ln -s /app/${path} /usr/local/bin/${name}`);
      expect(existsSync(join(root, path)), `${path} is built by npm run build`).toBe(true);
    }
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
    for (const copied of ['src', 'proto', 'scripts', 'package.json']) expect(ignored).not.toContain(copied);
  });
});
