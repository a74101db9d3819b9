// Validates Kubernetes manifests offline against the API models generated into @kubernetes/client-node:
// every field must exist on its type and carry a value of the right shape (kubectl needs a server for that).
import * as k8s from '@kubernetes/client-node';

interface Attribute {
  baseName: string;
  type: string;
}

interface Model {
  getAttributeTypeMap(): Attribute[];
}

function model(name: string): Model | undefined {
  const candidate = (k8s as unknown as Record<string, unknown>)[name];
  return candidate && typeof (candidate as Model).getAttributeTypeMap === 'function'
    ? (candidate as Model)
    : undefined;
}

/** The model for a manifest's apiVersion/kind, e.g. apps/v1 Deployment -> V1Deployment. */
export function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.split('/').pop() ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

export function validate(value: unknown, type: string, path: string, errors: string[]): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array?.[1]) {
    if (!Array.isArray(value)) errors.push(`${path}: expected a list`);
    else value.forEach((item, i) => validate(item, array[1] ?? 'any', `${path}[${i}]`, errors));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map?.[1]) {
    if (typeof value !== 'object' || Array.isArray(value)) errors.push(`${path}: expected a map`);
    else for (const [k, v] of Object.entries(value)) validate(v, map[1] ?? 'any', `${path}.${k}`, errors);
    return;
  }
  switch (type) {
    case 'any':
      return;
    case 'string':
    case 'Date':
      if (typeof value !== 'string') errors.push(`${path}: expected a string, got ${JSON.stringify(value)}`);
      return;
    case 'number':
      if (typeof value !== 'number') errors.push(`${path}: expected a number, got ${JSON.stringify(value)}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean')
        errors.push(`${path}: expected true/false, got ${JSON.stringify(value)}`);
      return;
    case 'IntOrString':
      if (typeof value !== 'string' && typeof value !== 'number')
        errors.push(`${path}: expected a number or a string`);
      return;
  }
  const m = model(type);
  if (!m) {
    errors.push(`${path}: unknown type ${type}`);
    return;
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    errors.push(`${path}: expected an object of type ${type}`);
    return;
  }
  const attributes = new Map(m.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, item] of Object.entries(value)) {
    const itemType = attributes.get(key);
    if (!itemType) errors.push(`${path}.${key}: not a field of ${type}`);
    else validate(item, itemType, `${path}.${key}`, errors);
  }
}

/** Errors for one manifest document (empty when it is valid). */
export function validateManifest(doc: { apiVersion?: unknown; kind?: unknown }, source: string): string[] {
  if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string')
    return [`${source}: apiVersion and kind are required`];
  const name = modelName(doc.apiVersion, doc.kind);
  if (!model(name)) return [`${source}: no Kubernetes model ${name} for ${doc.apiVersion} ${doc.kind}`];
  const errors: string[] = [];
  validate(doc, name, `${source}:${doc.kind}`, errors);
  return errors;
}
