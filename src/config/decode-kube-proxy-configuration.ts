/**
 * @module
 * Reads a KubeProxyConfiguration file (YAML or JSON) the way kube-proxy does (spec §2.4): strictly
 * first; when the strict pass fails only because of unknown or duplicate fields, it decodes again
 * leniently (unknown fields dropped, the last duplicate wins) and reports the strict error so the
 * caller can log "Using lenient decoding as strict decoding failed". Anything else (syntax, types,
 * a missing or wrong apiVersion/kind) is fatal. Defaults are applied to the result.
 */
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Node as YamlNode, Document } from 'yaml';
import { applyDefaults } from './defaults.ts';
import { formatDurationNs, parseDurationNs } from './duration.ts';
import { kubeProxyConfigurationSchema } from './schema.ts';
import type { FieldType, Schema } from './schema.ts';
import { API_VERSION, KIND } from './types.ts';
import type { KubeProxyConfiguration, PartialKubeProxyConfiguration } from './types.ts';

/** A fatal decoding problem: kube-proxy refuses to start. */
export class ConfigDecodeError extends Error {
  override name = 'ConfigDecodeError';
}

export type DecodeResult = {
  config: KubeProxyConfiguration;
  /** Set when strict decoding failed and the lenient decoding was used instead. */
  strictError?: string;
};

type Ctx = { doc: Document; strict: string[] };

/**
 * Decodes and defaults a KubeProxyConfiguration document.
 * @throws ConfigDecodeError for anything kube-proxy treats as fatal
 */
export function decodeKubeProxyConfiguration(text: string): DecodeResult {
  // Like sigs.k8s.io/yaml, only the first document counts: a trailing `---` (or more documents
  // after it) is not an error.
  const docs = parseAllDocuments(text, { uniqueKeys: false, schema: 'core', prettyErrors: false });
  const doc = Array.isArray(docs) ? docs[0] : undefined;
  if (doc === undefined) throw new ConfigDecodeError("Cannot decode KubeProxyConfiguration: Object 'Kind' is missing (the file is empty)");
  if (doc.errors.length > 0) {
    throw new ConfigDecodeError(`Cannot parse KubeProxyConfiguration: ${doc.errors[0].message.split('\n')[0]}`);
  }
  const root = doc.contents as YamlNode | null;
  if (!root || !isMap(root)) {
    throw new ConfigDecodeError("Cannot decode KubeProxyConfiguration: Object 'Kind' is missing (the document is not a mapping)");
  }
  const ctx: Ctx = { doc, strict: [] };
  const raw = decodeObject(root, kubeProxyConfigurationSchema, '', ctx) as Record<string, unknown>;
  if (typeof raw.kind !== 'string' || raw.kind === '') {
    throw new ConfigDecodeError("Cannot decode KubeProxyConfiguration: Object 'Kind' is missing");
  }
  if (typeof raw.apiVersion !== 'string' || raw.apiVersion === '') {
    throw new ConfigDecodeError("Cannot decode KubeProxyConfiguration: Object 'apiVersion' is missing");
  }
  if (raw.apiVersion !== API_VERSION || raw.kind !== KIND) {
    throw new ConfigDecodeError(
      `Cannot decode KubeProxyConfiguration: no kind "${raw.kind}" is registered for version "${raw.apiVersion}" (want kind "${KIND}", apiVersion "${API_VERSION}")`,
    );
  }
  const config = applyDefaults(raw as PartialKubeProxyConfiguration);
  return ctx.strict.length > 0 ? { config, strictError: `strict decoding error: ${ctx.strict.join(', ')}` } : { config };
}

function resolve(node: unknown, ctx: Ctx): unknown {
  return isAlias(node) ? node.resolve(ctx.doc) : node;
}

function decodeObject(node: unknown, schema: Schema, path: string, ctx: Ctx): Record<string, unknown> | null {
  node = resolve(node, ctx);
  if (isScalar(node) && node.value === null) return null;
  if (!isMap(node)) throw typeError(node, path, 'object');
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const pair of node.items) {
    const keyNode = resolve(pair.key, ctx);
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const fieldPath = path ? `${path}.${key}` : key;
    // Kubernetes decodes JSON case-sensitively, so `BindAddress` is an unknown field, not an alias.
    const type = Object.hasOwn(schema, key) ? schema[key] : undefined;
    if (type === undefined) {
      ctx.strict.push(`unknown field "${fieldPath}"`);
      continue;
    }
    if (seen.has(key)) ctx.strict.push(`duplicate field "${fieldPath}"`);
    seen.add(key);
    const value = decodeValue(pair.value, type, fieldPath, ctx);
    if (value === null) delete out[key];
    else out[key] = value;
  }
  return out;
}

function decodeValue(node: unknown, type: FieldType, path: string, ctx: Ctx): unknown {
  node = resolve(node, ctx);
  if (node === null || (isScalar(node) && node.value === null)) return null;
  if (typeof type === 'object') {
    if ('object' in type) return decodeObject(node, type.object, path, ctx);
    if (!isSeq(node)) throw typeError(node, path, 'list');
    return node.items.map((item, i) => decodeObject(item, type.listOf, `${path}[${i}]`, ctx));
  }
  switch (type) {
    case 'stringList': {
      if (!isSeq(node)) throw typeError(node, path, '[]string');
      return node.items.map((item, i) => scalarString(resolve(item, ctx), `${path}[${i}]`));
    }
    case 'boolMap': {
      if (!isMap(node)) throw typeError(node, path, 'map[string]bool');
      const out: Record<string, boolean> = {};
      for (const pair of node.items) {
        const k = resolve(pair.key, ctx);
        const key = isScalar(k) ? String(k.value) : String(k);
        if (Object.hasOwn(out, key)) ctx.strict.push(`duplicate field "${path}.${key}"`);
        const v = resolve(pair.value, ctx);
        if (!isScalar(v) || typeof v.value !== 'boolean') throw typeError(v, `${path}.${key}`, 'bool');
        out[key] = v.value;
      }
      return out;
    }
    case 'string':
      return scalarString(node, path);
    case 'quantity': {
      if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) throw typeError(node, path, 'Quantity');
      return plainText(node);
    }
    case 'bool':
      if (!isScalar(node) || typeof node.value !== 'boolean') throw typeError(node, path, 'bool');
      return node.value;
    case 'int32':
    case 'uint32': {
      if (!isScalar(node) || typeof node.value !== 'number') throw typeError(node, path, type);
      const v = node.value;
      const [lo, hi] = type === 'int32' ? [-(2 ** 31), 2 ** 31 - 1] : [0, 2 ** 32 - 1];
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new ConfigDecodeError(`Cannot decode KubeProxyConfiguration: cannot unmarshal number ${plainText(node)} into field "${path}" of type ${type}`);
      }
      return v;
    }
    case 'float32':
      if (!isScalar(node) || typeof node.value !== 'number') throw typeError(node, path, 'float32');
      return node.value;
    case 'duration':
    case 'timeOrDuration': {
      if (!isScalar(node)) throw typeError(node, path, 'Duration');
      // TimeOrMetaDuration also takes a bare number of nanoseconds.
      if (type === 'timeOrDuration' && typeof node.value === 'number' && Number.isInteger(node.value)) return formatDurationNs(node.value);
      if (typeof node.value !== 'string') throw typeError(node, path, 'Duration');
      try {
        return formatDurationNs(parseDurationNs(node.value));
      } catch (e) {
        throw new ConfigDecodeError(`Cannot decode KubeProxyConfiguration: field "${path}": time: invalid duration "${node.value}"`, { cause: e });
      }
    }
  }
}

/** String fields accept any plain scalar as written, as sigs.k8s.io/yaml converts for string targets. */
function scalarString(node: unknown, path: string): string {
  if (!isScalar(node)) throw typeError(node, path, 'string');
  if (typeof node.value === 'string') return node.value;
  if (node.type === 'PLAIN' && (typeof node.value === 'number' || typeof node.value === 'boolean')) return plainText(node);
  throw typeError(node, path, 'string');
}

function plainText(node: { value: unknown; source?: string }): string {
  return node.source ?? String(node.value);
}

function typeError(node: unknown, path: string, want: string): ConfigDecodeError {
  let got = 'object';
  if (isSeq(node)) got = 'array';
  else if (isScalar(node)) got = typeof node.value === 'number' ? 'number' : typeof node.value === 'boolean' ? 'bool' : 'string';
  return new ConfigDecodeError(`Cannot decode KubeProxyConfiguration: cannot unmarshal ${got} into field "${path}" of type ${want}`);
}
