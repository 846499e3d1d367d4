/**
 * Stack traces that point at the TypeScript sources, at no cost at start. A service runs as one
 * esbuild bundle with its source map beside it (main.mjs.map). Node's --enable-source-maps parses
 * that map while the bundle loads: about 100 ms of CPU on every start, measured
 * (docs/operations.md). Here the map is read only when a stack is first formatted, then kept: a service
 * that never logs an error never reads it. Node's own parser does the mapping (node:module's SourceMap).
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceOrigin } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

type CallSite = NodeJS.CallSite;

/** Each bundle's parsed map, or null when it has none; by the bundle's path. */
const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/** `file:line:column` in the source the bundle was built from, when its map says; else in the bundle. */
function locationOf(site: CallSite): string {
  const script = site.getFileName() ?? site.getScriptNameOrSourceURL();
  const line = site.getLineNumber();
  const column = site.getColumnNumber();
  if (!script) return site.isNative() ? 'native' : '<anonymous>';
  if (line === null || column === null) return script;
  const file = script.startsWith('file:') ? fileURLToPath(script) : script;
  // findOrigin answers {} where the map has nothing for the position.
  const origin = (file.startsWith('/') ? mapOf(file)?.findOrigin(line, column) : undefined) as
    | Partial<SourceOrigin>
    | undefined;
  if (origin?.fileName !== undefined && origin.lineNumber !== undefined && origin.columnNumber !== undefined) {
    // A source is named relative to the map (../src/main.ts): made absolute, it names the repo's file.
    const source = fileURLToPath(new URL(origin.fileName, pathToFileURL(`${file}.map`)));
    return `${source}:${origin.lineNumber}:${origin.columnNumber}`;
  }
  return `${script}:${line}:${column}`;
}

/** The frame's name as V8 writes it: `Type.method` for a method call, else the function's name. */
function nameOf(site: CallSite): string {
  const fn = site.getFunctionName() ?? site.getMethodName();
  const type = site.isToplevel() || site.isConstructor() ? null : site.getTypeName();
  return type && fn ? `${type}.${fn}` : (fn ?? '');
}

function frame(site: CallSite): string {
  const name = nameOf(site);
  const prefix = site.isAsync() ? 'async ' : site.isConstructor() ? 'new ' : '';
  const location = locationOf(site);
  return name ? `${prefix}${name} (${location})` : `${prefix}${location}`;
}

function header(error: unknown): string {
  try {
    return Error.prototype.toString.call(error);
  } catch {
    return 'Error';
  }
}

/**
 * Formats every stack with source locations from here on. Left alone when Node maps stacks itself
 * (--enable-source-maps, or tsx running the sources).
 */
export function mapStacksToSources(): void {
  if (process.sourceMapsEnabled) return;
  Error.prepareStackTrace = (error, sites) => {
    try {
      return [header(error), ...sites.map((site) => `    at ${frame(site)}`)].join('\n');
    } catch {
      return [header(error), ...sites.map((site) => `    at ${String(site)}`)].join('\n');
    }
  };
}
