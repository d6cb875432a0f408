/**
 * The single binary's source map (see build-binary.ts): a line-level map of our own sources only,
 * appended inline to the bundle. Mappings are decoded and encoded by @jridgewell/sourcemap-codec.
 *
 * Node with --enable-source-maps parses the whole map at start-up and keeps every segment: the
 * full map of the bundle (mostly @kubernetes/client-node's generated models) costs about 100 MB of
 * memory and a quarter second. What the logger's file:line header and our stack traces need is
 * which line of which of our files a bundle line came from, so each bundle line keeps one segment
 * (its first mapped position, moved to column 0), for our code only; names are dropped. Where a
 * dependency's code starts, an unmapped segment (no source) stops the previous mapping from
 * covering it: a lookup takes the nearest segment at or before a position, across lines, so a
 * dependency's frames keep their bundle location instead of borrowing one of our lines.
 * Sources are named `kube-proxy-bpf:///<repo path>`: they do not exist where the binary runs, and
 * the scheme says where they come from.
 */
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { decode, encode, type SourceMapLine } from '@jridgewell/sourcemap-codec';

export interface SourceMapV3 {
  version: 3;
  sources: string[];
  names: string[];
  mappings: string;
  sourcesContent?: (string | null)[];
  sourceRoot?: string;
}

/** The URL scheme our sources are named by in the binary's stack traces. */
export const SOURCE_SCHEME = 'kube-proxy-bpf:///';

/**
 * The reduced map of `map` (an esbuild map written to `mapDir`, sources relative to it): one
 * segment per bundle line of our code, none for dependencies (any path through node_modules).
 */
export function ownSourceMap(map: SourceMapV3, mapDir: string, root: string): SourceMapV3 {
  const keptIndex = new Map<number, number>();
  const sources: string[] = [];
  map.sources.forEach((s, i) => {
    if (s.split('/').includes('node_modules')) return;
    keptIndex.set(i, sources.length);
    sources.push(`${SOURCE_SCHEME}${relative(root, join(mapDir, s))}`);
  });
  let inOurs = false; // whether the last segment written maps to our code
  const lines = decode(map.mappings).map((line): SourceMapLine => {
    const first = line.find((seg) => seg.length >= 4);
    if (first === undefined) return []; // nothing mapped: the previous line's mapping carries on
    const kept = keptIndex.get(first[1]!);
    if (kept === undefined) {
      if (!inOurs) return [];
      inOurs = false;
      return [[0]]; // unmapped from here on
    }
    inOurs = true;
    return [[0, kept, first[2]!, first[3]!]];
  });
  return { version: 3, sources, names: [], mappings: encode(lines) };
}

/** Replaces `<bundle>.map` (esbuild's external map) by the reduced map, inline at the bundle's end. */
export function appendOwnSourceMap(bundle: string, root: string): void {
  const mapFile = `${bundle}.map`;
  const own = ownSourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapV3, dirname(mapFile), root);
  const data = Buffer.from(JSON.stringify(own)).toString('base64');
  appendFileSync(bundle, `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${data}\n`);
  rmSync(mapFile);
}
