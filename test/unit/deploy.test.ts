// deploy/: the Kubernetes manifests validate against the API models, and keep the properties platform teams require.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { gatewayKind, istioKind } from '../../src/adapters/kubernetes-route-kinds.ts';
import { GatewayTraffic, IstioTraffic, loadConfig, parseConfig } from '../../src/config.ts';
import { validate, validateManifest } from '../support/k8s-schema.ts';

const DIR = 'deploy/kubernetes';

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function manifests(): { file: string; doc: Doc }[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))
        .map((d) => d.toJS() as Doc)
        .filter(Boolean)
        .map((doc) => ({ file, doc })),
    );
}

function find(kind: string): Doc {
  const found = manifests().find((m) => m.doc.kind === kind);
  assert.ok(found, `a ${kind} manifest exists`);
  return found.doc;
}

describe('deploy/', () => {
  it('every Kubernetes manifest validates against the API models', () => {
    const all = manifests();
    assert.ok(all.length >= 6);
    const errors = all.flatMap(({ file, doc }) => validateManifest(doc, file));
    assert.deepEqual(errors, []);
  });

  it('the validator catches a misspelt field and a wrong type', () => {
    const errors: string[] = [];
    validate(
      {
        spec: {
          replicas: 'two',
          template: { spec: { containers: [{ name: 'x', imagePullPolicyy: 'Always' }] } },
        },
      },
      'V1Deployment',
      'd',
      errors,
    );
    assert.deepEqual(errors, [
      'd.spec.replicas: expected a number, got "two"',
      'd.spec.template.spec.containers[0].imagePullPolicyy: not a field of V1Container',
    ]);
  });

  it('kustomization lists every manifest except the Secret template', () => {
    const kustomization = parseAllDocuments(
      readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'),
    )[0]?.toJS() as { resources: string[] };
    // The Secret is a template; the Role goes into each workload namespace, outside the bot's own.
    const files = readdirSync(DIR).filter(
      (f) =>
        f.endsWith('.yaml') &&
        !['kustomization.yaml', 'secret.example.yaml', 'rbac-target.yaml', 'rbac-traffic.yaml'].includes(f),
    );
    assert.deepEqual([...kustomization.resources].sort(), files.sort());
  });

  it('runs two non-root replicas with probes on /readyz and /healthz, limits, and secrets from a Secret', () => {
    const deployment = find('Deployment') as unknown as {
      spec: {
        replicas: number;
        template: {
          spec: {
            serviceAccountName: string;
            securityContext: { runAsNonRoot: boolean };
            containers: {
              readinessProbe: { httpGet: { path: string } };
              livenessProbe: { httpGet: { path: string } };
              resources: { limits: { memory: string }; requests: { cpu: string } };
              envFrom: { secretRef: { name: string } }[];
              securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
            }[];
          };
        };
      };
    };
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.ok(container);
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.serviceAccountName, 'cloud-safety');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.ok(container.resources.limits.memory && container.resources.requests.cpu);
    assert.equal(container.envFrom[0]?.secretRef.name, 'cloud-safety');
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.equal((find('PodDisruptionBudget').spec as { minAvailable: number }).minAvailable, 1);
  });

  it('ships a ConfigMap whose cloud-safety.yml is a valid config', () => {
    const configMap = find('ConfigMap');
    const text = configMap.data?.['cloud-safety.yml'];
    assert.ok(text);
    const doc = parseAllDocuments(text)[0]?.toJS();
    assert.ok(parseConfig(doc, 'configmap').services.payments);
  });

  it('the Dockerfile runs as a non-root user with production dependencies and a health check', () => {
    const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
    assert.match(dockerfile, /^FROM node:24-[a-z]+-slim$/m);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/healthz/m);
    assert.doesNotMatch(dockerfile, /COPY \. /, 'copies only the project files it needs');
    assert.ok(loadConfig('cloud-safety.example.yml'));
  });
});

const IAM_PREFIX: Record<string, string> = {
  'client-route-53': 'route53',
  'client-route53-recovery-cluster': 'route53-recovery-cluster',
  'client-elastic-load-balancing-v2': 'elasticloadbalancing',
  'client-s3': 's3',
  'client-cloudwatch': 'cloudwatch',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every IAM action the code can cause: each `new XCommand(` by the package it is imported from, and S3 uploads. */
function actionsCalled(): Set<string> {
  const actions = new Set<string>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('flows')]) {
    const text = readFileSync(file, 'utf8');
    const packageOf = new Map<string, string>();
    for (const m of text.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/([a-z0-9-]+)'/g)) {
      for (const name of (m[1] ?? '').split(','))
        packageOf.set(name.replace(/\btype\b/, '').trim(), m[2] ?? '');
    }
    for (const m of text.matchAll(/new (\w+)Command\(/g)) {
      const pkg = packageOf.get(`${m[1]}Command`);
      assert.ok(pkg, `${file}: ${m[1]}Command is imported from an @aws-sdk client`);
      const prefix = IAM_PREFIX[pkg];
      assert.ok(prefix, `${file}: ${pkg} has an IAM prefix in this test`);
      actions.add(`${prefix}:${m[1]}`);
    }
    // Calls signed without an SDK client declare their IAM action next to the operation.
    for (const m of text.matchAll(/iamAction: '([a-z0-9-]+:[A-Za-z]+)'/g)) actions.add(m[1] ?? '');
    if (packageOf.has('Upload') && packageOf.get('Upload') === 'lib-storage') {
      // Multipart uploads are authorised by s3:PutObject; a failed one is aborted.
      actions.add('s3:PutObject');
      actions.add('s3:AbortMultipartUpload');
    }
  }
  return actions;
}

describe('deploy/aws/iam-policy.json', () => {
  const policy = JSON.parse(readFileSync('deploy/aws/iam-policy.json', 'utf8')) as {
    Statement: { Effect: string; Action: string | string[]; Resource: string | string[] }[];
  };
  const granted = new Set(policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));

  it('allows every AWS action the code calls', () => {
    const called = actionsCalled();
    assert.ok(
      called.has('route53:ChangeResourceRecordSets') &&
        called.has('s3:PutObject') &&
        called.has('route53-recovery-control-config:ListSafetyRules'),
      'found the calls',
    );
    assert.deepEqual([...called].filter((a) => !granted.has(a)).sort(), []);
  });

  it('allows nothing the code does not call, with no wildcard actions', () => {
    const called = actionsCalled();
    assert.deepEqual([...granted].filter((a) => !called.has(a)).sort(), []);
    assert.ok([...granted].every((a) => !a.includes('*')));
    for (const statement of policy.Statement) assert.equal(statement.Effect, 'Allow');
  });
});

/** The client-node calls of the traffic layers and the RBAC verb each needs. */
const K8S_VERB: Record<string, string> = {
  getNamespacedCustomObject: 'get',
  replaceNamespacedCustomObject: 'update',
  listNamespacedEndpointSlice: 'list',
};

describe('deploy/kubernetes/rbac-traffic.yaml', () => {
  /** "group/resource:verb" for every call the route layers can make, on every kind of route they shift. */
  function needed(): Set<string> {
    const kinds = [
      gatewayKind(
        GatewayTraffic.parse({
          namespace: 'n',
          httpRoute: 'r',
          legacy: { service: 'a' },
          cloud: { service: 'b' },
        }),
      ),
      istioKind(
        IstioTraffic.parse({
          namespace: 'n',
          virtualService: 'v',
          legacy: { host: 'a' },
          cloud: { host: 'b' },
        }),
      ),
    ];
    const out = new Set<string>();
    for (const file of sourceFiles('src')) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\.(\w+)\(\{/g)) {
        const method = m[1] ?? '';
        if (/CustomObject$/.test(method) || /EndpointSlice$/.test(method)) {
          const verb = K8S_VERB[method];
          assert.ok(verb, `${file}: ${method} has an RBAC verb in this test`);
          if (method.endsWith('EndpointSlice')) out.add(`discovery.k8s.io/endpointslices:${verb}`);
          else for (const k of kinds) out.add(`${k.group}/${k.plural}:${verb}`);
        }
      }
    }
    return out;
  }

  it('grants exactly the verbs the Gateway API and Istio layers call, and nothing else', () => {
    const docs = parseAllDocuments(readFileSync(join(DIR, 'rbac-traffic.yaml'), 'utf8')).map(
      (d) =>
        d.toJS() as { kind: string; rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[] },
    );
    const role = docs.find((d) => d.kind === 'Role');
    assert.ok(role?.rules);
    const granted = new Set(
      role.rules.flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g}/${res}:${v}`))),
      ),
    );
    const calls = needed();
    assert.ok(calls.has('gateway.networking.k8s.io/httproutes:update'), 'found the calls');
    assert.deepEqual([...granted].sort(), [...calls].sort());
  });
});
