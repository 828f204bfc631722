import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { buildProgram } from '../../apps/cli/src/main.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'deploy/kubernetes');

type Command = ReturnType<typeof buildProgram>;

// biome-ignore lint/suspicious/noExplicitAny: manifests are free-form YAML, checked field by field below
type Obj = Record<string, any>;

/** Every document of every manifest, parsed by a maintained YAML library (errors fail the test). */
function manifests(): Obj[] {
  const docs: Obj[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      docs.push({ ...(doc.toJS() as Obj), __file: file });
    }
  }
  return docs;
}

function find(kind: string, name: string): Obj {
  const m = manifests().find((d) => d['kind'] === kind && d['metadata']?.name === name);
  expect(m, `${kind}/${name}`).toBeDefined();
  return m!;
}

/**
 * Parses a container's args with kalab's own CLI parser (commander, the same program `kalab`
 * runs), with every action replaced by a recorder: an unknown or renamed flag, or a flag
 * missing its value, fails here exactly as it would fail in the pod.
 */
async function parseWithKalab(args: string[]): Promise<{ command: string; options: Obj }> {
  const program = buildProgram();
  let seen: { command: string; options: Obj } | undefined;
  const silence = (c: Command) => {
    c.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    c.action((...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      seen = { command: cmd.name(), options: cmd.opts() };
    });
  };
  program.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const c of program.commands) silence(c);
  // Kubernetes expands $(VAR) from the container's env before exec.
  const expanded = args.map((a) => a.replace(/\$\((\w+)\)/g, (_m, v: string) => `value-of-${v.toLowerCase()}`));
  await program.parseAsync(['node', 'kalab', ...expanded]);
  expect(seen, args.join(' ')).toBeDefined();
  return seen!;
}

describe('deploy/kubernetes manifests (no cluster here: loaded, checked and parsed by kalab)', () => {
  it('every file parses and every object has the fields the API server requires', () => {
    const docs = manifests();
    expect(docs.map((d) => `${d['kind']}/${d['metadata']?.name ?? ''}`).sort()).toEqual(
      [
        'Deployment/kalab-agent',
        'Deployment/kalab-monitor',
        'Kustomization/',
        'Namespace/kalab',
        'Secret/kalab-token',
        'Service/kalab-monitor',
      ].sort(),
    );
    for (const d of docs) expect(d['apiVersion'], d['__file']).toMatch(/\w/);
  });

  // The API server's own OpenAPI schemas (kubernetes-models): types, required fields, enums.
  // Kustomization is kustomize's file, never sent to the API server, so it has no model here.
  const MODELS: Record<string, new (o: Obj) => { validate(): void }> = {
    'apps/v1/Deployment': Deployment,
    'v1/Service': Service,
    'v1/Namespace': Namespace,
    'v1/Secret': Secret,
  };

  it('every API object validates against the Kubernetes schema of its apiVersion and kind', () => {
    let checked = 0;
    for (const { __file, ...doc } of manifests()) {
      if (doc['kind'] === 'Kustomization') continue;
      const Model = MODELS[`${doc['apiVersion']}/${doc['kind']}`];
      expect(Model, `${__file}: no model for ${doc['apiVersion']} ${doc['kind']}`).toBeDefined();
      expect(() => new Model!(doc).validate(), `${__file} ${doc['kind']}/${doc['metadata']?.name}`).not.toThrow();
      checked++;
    }
    expect(checked).toBe(5);
  });

  it('the schema check can fail: a port given as text, a Deployment without a selector', () => {
    const dep = structuredClone(find('Deployment', 'kalab-monitor'));
    delete dep['__file'];
    dep['spec'].template.spec.containers[0].ports[0].containerPort = 'http-port';
    expect(() => new Deployment(dep).validate()).toThrow(/containerPort/);
    const bare = structuredClone(find('Deployment', 'kalab-agent'));
    delete bare['__file'];
    delete bare['spec'].selector;
    expect(() => new Deployment(bare).validate()).toThrow(/selector/);
  });

  it('the monitor: image, port, readiness on /healthz, token from the Secret, limits, non-root', async () => {
    const dep = find('Deployment', 'kalab-monitor');
    const pod = dep['spec'].template.spec;
    expect(dep['spec'].template.metadata.labels).toMatchObject(dep['spec'].selector.matchLabels);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const [c] = pod.containers as Obj[];
    expect(c!['image']).toMatch(/^REGISTRY\/kalab:\d+\.\d+\.\d+$/);
    expect(c!['ports']).toEqual([{ name: 'ws', containerPort: 7070, protocol: 'TCP' }]);
    expect(c!['readinessProbe'].httpGet).toEqual({ path: '/healthz', port: 'ws' });
    expect(c!['env']).toContainEqual({
      name: 'KALAB_TOKEN',
      valueFrom: { secretKeyRef: { name: 'kalab-token', key: 'token' } },
    });
    expect(c!['resources'].requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(c!['resources'].limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const parsed = await parseWithKalab(c!['args']);
    expect(parsed).toEqual({
      command: 'monitor',
      options: expect.objectContaining({ listen: '0.0.0.0:7070' }),
    });
    // The token reaches kalab as KALAB_TOKEN, never as an argument (arguments show in ps).
    expect(parsed.options['token']).toBeUndefined();
    expect((c!['args'] as string[]).join(' ')).not.toMatch(/token/i);
    // Agents reach the monitor by its Service name: the monitor must answer to that Host.
    const agentUrl = new URL(
      (find('Deployment', 'kalab-agent')['spec'].template.spec.containers[0].args as string[]).find((a) =>
        a.startsWith('ws://'),
      )!,
    );
    expect(parsed.options['allowHost']).toContain(agentUrl.hostname);
    // The Service routes to the pods and the port the container listens on.
    const svc = find('Service', 'kalab-monitor');
    expect(dep['spec'].template.metadata.labels).toMatchObject(svc['spec'].selector);
    expect(svc['spec'].ports).toEqual([{ name: 'ws', port: 7070, targetPort: 'ws', protocol: 'TCP' }]);
  });

  it('the agents: N replicas, the safe namespaced port-range sysctl, the monitor Service address, caps', async () => {
    const dep = find('Deployment', 'kalab-agent');
    expect(dep['spec'].replicas).toBeGreaterThanOrEqual(2);
    const pod = dep['spec'].template.spec;
    expect(pod.securityContext.sysctls).toEqual([{ name: 'net.ipv4.ip_local_port_range', value: '1024 65535' }]);
    const [c] = pod.containers as Obj[];
    expect(c!['env']).toContainEqual({
      name: 'KALAB_TOKEN',
      valueFrom: { secretKeyRef: { name: 'kalab-token', key: 'token' } },
    });
    expect(c!['resources'].limits).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    const parsed = await parseWithKalab(c!['args']);
    expect(parsed.command).toBe('loadgen');
    expect(parsed.options).toMatchObject({
      agent: true,
      monitor: 'ws://kalab-monitor.kalab.svc:7070/ws',
      name: 'value-of-pod_name',
      maxConnections: '2000',
      maxDuration: '10m',
    });
    expect(parsed.options['token']).toBeUndefined();
    expect((c!['args'] as string[]).join(' ')).not.toMatch(/token/i);
    const monitorSvc = find('Service', 'kalab-monitor');
    const url = new URL(parsed.options['monitor'] as string);
    expect(url.hostname.split('.')[0]).toBe(monitorSvc['metadata'].name);
    expect(Number(url.port)).toBe(monitorSvc['spec'].ports[0].port);
  });

  it('a renamed or unknown flag fails the parse (the check above can tell right from wrong)', async () => {
    await expect(parseWithKalab(['loadgen', '--agent', '--max-conections', '5'])).rejects.toMatchObject({
      code: 'commander.unknownOption',
    });
    await expect(parseWithKalab(['monitor', '--listen'])).rejects.toMatchObject({
      code: 'commander.optionMissingArgument',
    });
  });

  it('the image build file: Node 20 slim, the artifact, a non-root user, kalab as the entry point', () => {
    const file = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
    expect(file).toMatch(/^FROM node:20-slim$/m);
    expect(file).toMatch(/^ADD artifacts\/kalab-\$\{VERSION\}\.tgz \/opt\/$/m);
    expect(file).toMatch(/^USER node$/m);
    expect(file).toMatch(/^ENTRYPOINT \["node", "\/opt\/kalab\/bin\/kalab\.js"\]$/m);
    const cli = JSON.parse(readFileSync(join(ROOT, 'apps/cli/package.json'), 'utf8')) as { version: string };
    expect(file).toContain(`ARG VERSION=${cli.version}`);
  });
});
