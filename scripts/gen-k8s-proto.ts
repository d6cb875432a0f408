#!/usr/bin/env node
/**
 * `make proto`: generates the Kubernetes protobuf schema the agent decodes with, at build time,
 * from the `generated.proto` files of the k8s.io/api and k8s.io/apimachinery Go modules at the
 * versions e2e/k8s/go.mod pins (the release we target). The modules come from the Go module proxy
 * through `go mod download`; nothing of them is copied into the repository.
 *
 *   node scripts/gen-k8s-proto.ts <out.ts> [<full.json>]
 *
 * Writes <out.ts>: for each message and field listed in src/kube/protobuf-fields.ts, its number,
 * type and cardinality, and whether the Go struct field behind it is a pointer (read from the
 * module's Go sources: Go's encoder writes a non-pointer scalar even when it is empty, a pointer
 * only when set, which the decoder needs to tell "absent" from "empty"); it fails (exit 1, naming the message and field) when upstream lacks one
 * or a listed field refers to a message that is not listed. With <full.json> it also writes the
 * complete protobufjs descriptor of those files, which the tests use to encode fixtures.
 * make reruns it only when this script, the field list or e2e/k8s/go.mod changed; `go mod
 * download` then answers from the module cache without the network once a version is there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { K8S_PROTO_FIELDS, K8S_PROTO_FILES, type ProtoField, type ProtoSchema } from '../src/kube/protobuf-fields.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const [out, fullOut] = process.argv.slice(2);
if (!out) {
  console.error('usage: gen-k8s-proto.ts <out.ts> [<full.json>]');
  process.exit(2);
}

function fail(msg: string): never {
  console.error(`gen-k8s-proto: ${msg}`);
  process.exit(1);
}

/** The version e2e/k8s/go.mod pins a module to (its replace directive). */
function pinned(module: string): string {
  const gomod = readFileSync(join(root, 'e2e/k8s/go.mod'), 'utf8');
  const m = new RegExp(`^\\s*${module.replace(/\./g, '\\.')}\\s+=>\\s+${module.replace(/\./g, '\\.')}\\s+(v\\S+)`, 'm').exec(gomod);
  if (!m) fail(`e2e/k8s/go.mod pins no version of ${module} (expected "${module} => ${module} vX.Y.Z")`);
  return m[1]!;
}

const modules = Object.keys(K8S_PROTO_FILES) as (keyof typeof K8S_PROTO_FILES)[];
const versions = Object.fromEntries(modules.map((m) => [m, pinned(m)])) as Record<string, string>;
let listing: string;
try {
  // Outside any module (cwd /): `go mod download` takes module@version, checks go.sum-less
  // downloads against the checksum database, and answers with one JSON object per module.
  listing = execFileSync('go', ['mod', 'download', '-json', ...modules.map((m) => `${m}@${versions[m]}`)], {
    cwd: '/', encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GOFLAGS: '-mod=mod', GO111MODULE: 'on' },
  });
} catch (err) {
  const e = err as { stderr?: string; message: string };
  fail(`go mod download ${modules.map((m) => `${m}@${versions[m]}`).join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
}
const dirs = new Map<string, string>();
for (const chunk of listing.split(/(?<=^\})\s*(?=\{)/m)) {
  const info = JSON.parse(chunk) as { Path: string; Dir?: string; Error?: string };
  if (info.Error || !info.Dir) fail(`go mod download ${info.Path}: ${info.Error ?? 'no directory'}`);
  dirs.set(info.Path, info.Dir);
}

const protoRoot = new protobuf.Root();
// Imports name files by Go import path ("k8s.io/apimachinery/pkg/.../generated.proto").
protoRoot.resolvePath = (_origin, target) => {
  for (const [mod, dir] of dirs) if (target.startsWith(`${mod}/`)) return join(dir, target.slice(mod.length + 1));
  return target;
};
const files = modules.flatMap((m) => K8S_PROTO_FILES[m].map((f) => `${m}/${f}`));
for (const f of files) if (!existsSync(protoRoot.resolvePath('', f) ?? f)) fail(`${f} is missing from the downloaded module`);
protoRoot.loadSync(files, { keepCase: true });
protoRoot.resolveAll();

/**
 * Go struct fields that are pointers, as "Message.protoField", from the Go files of each proto
 * file's package (the struct is named like the message; the protobuf tag names the field).
 */
function goPointerFields(): Set<string> {
  const out = new Set<string>();
  for (const f of files) {
    const dir = dirname(protoRoot.resolvePath('', f) ?? f);
    const pkg = f.replace(/\/generated\.proto$/, '');
    const protoPkg = pkg.replace(/\//g, '.');
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.go') || name.endsWith('_test.go') || name.startsWith('zz_') || name.endsWith('.pb.go')) continue;
      const src = readFileSync(join(dir, name), 'utf8');
      for (const m of src.matchAll(/^type (\w+) struct \{\n([\s\S]*?)^\}/gm)) {
        for (const line of m[2]!.split('\n')) {
          const fm = /^\s*\w*\s+(\S+)\s+`[^`]*protobuf:"[^"]*\bname=(\w+)/.exec(line);
          if (fm && fm[1]!.startsWith('*')) out.add(`${protoPkg}.${m[1]}.${fm[2]}`);
        }
      }
    }
  }
  return out;
}
const pointers = goPointerFields();

const messages: ProtoSchema['messages'] = {};
for (const [name, fields] of Object.entries(K8S_PROTO_FIELDS)) {
  let type: protobuf.Type;
  try {
    type = protoRoot.lookupType(name);
  } catch {
    fail(`message ${name} is not in ${files.join(', ')}`);
  }
  const out: Record<string, ProtoField> = {};
  for (const f of fields) {
    const field = type.fields[f];
    if (!field) fail(`message ${name} has no field "${f}"`);
    const ref = field.resolvedType ? field.resolvedType.fullName.replace(/^\./, '') : field.type;
    if (field.resolvedType instanceof protobuf.Type && !(ref in K8S_PROTO_FIELDS)) fail(`${name}.${f} is a ${ref}, which src/kube/protobuf-fields.ts does not list`);
    if (field.resolvedType instanceof protobuf.Enum) fail(`${name}.${f} is an enum; Kubernetes uses none and the decoder reads none`);
    out[f] = {
      id: field.id, type: ref, repeated: field.repeated,
      ...(field.map ? { keyType: (field as unknown as protobuf.MapField).keyType } : {}),
      ...(pointers.has(`${name}.${f}`) ? { pointer: true } : {}),
    };
  }
  messages[name] = out;
}

const source = modules.map((m) => `${m} ${versions[m]}`).join(', ');
const schema: ProtoSchema = { source, messages };
const text = [
  `// Generated by scripts/gen-k8s-proto.ts from the generated.proto files of ${source}`,
  '// (Go module proxy, `go mod download`). Do not edit; `make proto` rewrites it.',
  "import type { ProtoSchema } from '../../src/kube/protobuf-fields.ts';",
  '',
  `export const K8S_SCHEMA: ProtoSchema = ${JSON.stringify(schema, null, 2)};`,
  '',
].join('\n');

function write(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}
if (fullOut) write(fullOut, `${JSON.stringify(protoRoot.toJSON())}\n`);
// Last: make treats this one as the target.
write(out, text);
console.log(`gen-k8s-proto: ${Object.keys(messages).length} messages from ${source} -> ${out}`);
