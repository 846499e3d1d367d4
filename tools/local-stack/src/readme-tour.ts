/**
 * The README's "A five-minute tour" and the examples of docs/*.md, read as scripts that
 * readme-tour.test.ts runs against a started stack. The convention, which is how they already read
 * to a human:
 *
 * - Every ```sh block is read (in the README, those of the tour's section); each line that is not a
 *   comment is a command (a line ending in `\` continues on the next). A block right below a line
 *   `<!-- not run: <why> -->` is not run, and says why (a cluster it needs, minutes it takes).
 * - The response the README documents for a command is a comment: at the end of the command's last
 *   line (`curl ...  # {"account":"john-account","balance":100}`), or on the `#` lines right below
 *   it. It is a response when it starts with `{`, `[` or `HTTP/`: a status line, then `name: value`
 *   header lines, then the body. Any other comment is prose; a prose comment that only lists event
 *   names (`# AccountOpened, Issued, Debited`) says that each appears in the command's output.
 * - A documented body is JSON, where `...` may stand for more members of an object or elements of
 *   an array (`{"transfer":"79bf...","status":"completed",...}`), and a string ending in `...` for
 *   any string. Values that change per run are matched by their shape, not their value: UUIDs,
 *   stream positions (`1795746687613-0`), timestamps. Everything else must be equal.
 * - `<name>` in a command stands for the field `name` of the latest response that had one (the
 *   transfer made above, say); `<debit.position>` for a nested one.
 * - `export NAME=$(command)` (or `NAME=$(command)`) keeps the inner command's output as `$NAME`.
 */
import { parse as parseShell } from 'shell-quote';

/** A command of the tour, and what the README says it answers. */
export interface TourStep {
  /** The README's line number (1-based) where the command starts. */
  line: number;
  /** The command as written, continuation lines joined. */
  command: string;
  /** The documented response's lines (without `# `), if any. */
  response?: string[];
  /** A prose comment on the command, if any. */
  prose?: string;
}

const TOUR_HEADING = /^##\s+A five-minute tour\s*$/;
/** The line that keeps the block below it from being run, with its reason. */
const NOT_RUN = /^<!--\s*not run:\s*\S.*-->\s*$/;

/** The tour's commands, from the README's markdown. Fails if the section or its commands are gone. */
export function readTour(markdown: string): TourStep[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => TOUR_HEADING.test(line));
  if (start < 0) throw new Error('the README has no "## A five-minute tour" section');
  const steps = readSteps(lines, start + 1, true);
  if (steps.length === 0) throw new Error("the README's tour has no commands in ```sh blocks");
  return steps;
}

/** A document's examples: the commands of every ```sh block not marked `<!-- not run: ... -->`. */
export function readExamples(markdown: string): TourStep[] {
  return readSteps(markdown.split('\n'), 0, false);
}

function readSteps(lines: string[], start: number, sectionOnly: boolean): TourStep[] {
  const steps: TourStep[] = [];
  let inSh = false;
  let inOther = false;
  let current: TourStep | undefined;
  let pending: { line: number; text: string } | undefined;
  for (let index = start; index < lines.length; index++) {
    const raw = lines[index] ?? '';
    if (sectionOnly && !inSh && !inOther && /^##\s/.test(raw)) break;
    if (/^```/.test(raw)) {
      if (inSh && pending) throw new Error(`line ${pending.line}: a command ends in \\ at the end of its block`);
      const opens: boolean = !inSh && !inOther;
      const sh: boolean = opens && /^```(sh|bash|shell)\s*$/.test(raw);
      // A shell block the test would not see (```console, ```sh title=...) is refused, not skipped.
      if (opens && !sh && /^```\s*(sh|bash|shell|console|zsh)\b/.test(raw)) {
        throw new Error(`line ${index + 1}: a shell example's fence is \`\`\`sh, \`\`\`bash or \`\`\`shell alone`);
      }
      const marked = NOT_RUN.test(previousLine(lines, index));
      inSh = sh && !marked;
      inOther = opens && !inSh;
      current = undefined;
      continue;
    }
    if (!inSh) continue;
    const text = raw.trim();
    if (text === '') {
      current = undefined;
      continue;
    }
    if (!pending && text.startsWith('#')) {
      const comment = text.replace(/^#\s?/, '');
      if (!current) continue;
      if (current.response) current.response.push(comment);
      else if (isResponse(comment.trimStart())) {
        // Joined to the prose it would never be checked: a documented response is refused there.
        if (current.prose !== undefined) {
          throw new Error(
            `line ${index + 1}: a response after a prose comment is not checked; put it right below its command`,
          );
        }
        current.response = [comment.trimStart()];
      } else current.prose = current.prose === undefined ? comment : `${current.prose} ${comment}`;
      continue;
    }
    if (text.endsWith('\\')) {
      pending = {
        line: pending?.line ?? index + 1,
        text: `${pending ? `${pending.text} ` : ''}${text.slice(0, -1).trim()}`,
      };
      continue;
    }
    const whole = pending ? `${pending.text} ${text}` : text;
    const { command, comment } = splitComment(whole);
    current = { line: pending?.line ?? index + 1, command };
    pending = undefined;
    if (comment !== undefined) {
      if (isResponse(comment)) current.response = [comment];
      else current.prose = comment;
    }
    steps.push(current);
  }
  return steps;
}

/** The nearest line above `index` that is not blank. */
function previousLine(lines: string[], index: number): string {
  for (let above = index - 1; above >= 0; above--) if ((lines[above] ?? '').trim() !== '') return lines[above] ?? '';
  return '';
}

const isResponse = (comment: string) => /^(\{|\[|HTTP\/)/.test(comment);

/** A command and its trailing comment: a `#` that starts a word outside quotes. */
function splitComment(text: string): { command: string; comment?: string } {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quote) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"') i++;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '\\') i++;
    else if (char === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      return { command: text.slice(0, i).trim(), comment: text.slice(i + 1).trim() };
    }
  }
  return { command: text.trim() };
}

/**
 * A command's words as a POSIX shell would make them (shell-quote's parse: quotes, backslashes,
 * `$NAME` and `${NAME}` from `env`). Anything else a shell would do (pipes, redirections, `;`,
 * `&&`, globs, backticks, `$( )`) is refused, so the test never runs something other than what the
 * README says; so is a variable that is not set.
 */
export function shellWords(command: string, env: Record<string, string | undefined>): string[] {
  const value = (name: string) => {
    if (name === '') throw new Error(`$( ) is only supported as export NAME=$(...): ${command}`);
    const set = env[name];
    if (set === undefined) throw new Error(`$${name} is not set (the tour sets it with export above?)`);
    return set;
  };
  return parseShell(command, value).map((token) => {
    if (typeof token !== 'string') {
      const what = 'op' in token ? (token.op === 'glob' ? token.pattern : token.op) : '#';
      throw new Error(`shell syntax the tour test does not run (${what}): ${command}`);
    }
    if (token.includes('`')) throw new Error(`backticks are not supported: ${command}`);
    return token;
  });
}

/** `export NAME=$(command)` or `NAME=$(command)`: the name and the inner command, or undefined. */
export function exportFromCommand(command: string): { name: string; inner: string } | undefined {
  const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=\$\((.*)\)$/.exec(command.trim());
  return match?.[1] && match[2] !== undefined ? { name: match[1], inner: match[2] } : undefined;
}

/** Fills each `<name>` with the field `name` of a response seen before. */
export function fillPlaceholders(command: string, fields: Record<string, string>): string {
  return command.replace(/<([a-z][a-zA-Z0-9-]*(?:\.[a-z][a-zA-Z0-9-]*)*)>/g, (_, name: string) => {
    const value = fields[name];
    if (value === undefined) throw new Error(`<${name}> names no field of a response before it: ${command}`);
    return value;
  });
}

/**
 * Every string-or-number field of a JSON value, by name, depth first (later ones win), and by its
 * path of names from the top (`debit.position`).
 */
export function fieldsOf(value: unknown, into: Record<string, string> = {}, path = ''): Record<string, string> {
  if (Array.isArray(value)) for (const item of value) fieldsOf(item, into, path);
  else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      if (typeof item === 'string' || typeof item === 'number') {
        into[key] = String(item);
        into[at] = String(item);
      } else fieldsOf(item, into, at);
    }
  }
  return into;
}

// ---- Matching a documented response against what a command printed ----

const SHAPES: { name: string; pattern: RegExp }[] = [
  { name: 'a UUID', pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i },
  { name: 'a stream position', pattern: /^\d{10,}-\d+$/ },
  { name: 'a timestamp', pattern: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/ },
];
const shapeOf = (text: string) => SHAPES.find((shape) => shape.pattern.test(text));
/** A UUID or a stream position inside a header's text (the first two shapes, unanchored). */
const VOLATILE_IN_TEXT = new RegExp(
  `(${SHAPES.slice(0, 2)
    .map((shape) => shape.pattern.source.slice(1, -1))
    .join('|')})`,
  'i',
);

/** `...` in a documented JSON body: more members or elements than shown. */
const ELLIPSIS = Symbol('...');
/** A documented string cut short ("79bf..."): any string. */
class AnyString {
  constructor(readonly shown: string) {}
}
interface OpenObject {
  open: boolean;
  members: Map<string, unknown>;
}
interface OpenArray {
  open: boolean;
  items: unknown[];
}

/** Parses a documented JSON body, which may hold `...` (see the header). */
function parsePattern(text: string): unknown {
  let at = 0;
  const fail = (what: string): never => {
    throw new Error(`cannot read the documented JSON at ${at} (${what}): ${text}`);
  };
  const space = () => {
    while (/\s/.test(text[at] ?? '')) at++;
  };
  const value = (): unknown => {
    space();
    if (text.startsWith('...', at)) {
      at += 3;
      return ELLIPSIS;
    }
    const char = text[at];
    if (char === '{') {
      at++;
      const object: OpenObject = { open: false, members: new Map() };
      space();
      if (text[at] === '}') {
        at++;
        return object;
      }
      for (;;) {
        space();
        if (text.startsWith('...', at)) {
          at += 3;
          object.open = true;
        } else {
          const key = value();
          if (typeof key !== 'string') fail('a key');
          space();
          if (text[at++] !== ':') fail('a colon');
          object.members.set(key as string, value());
        }
        space();
        const next = text[at++];
        if (next === '}') return object;
        if (next !== ',') fail('a comma or }');
      }
    }
    if (char === '[') {
      at++;
      const array: OpenArray = { open: false, items: [] };
      space();
      if (text[at] === ']') {
        at++;
        return array;
      }
      for (;;) {
        const item = value();
        if (item === ELLIPSIS) array.open = true;
        else array.items.push(item);
        space();
        const next = text[at++];
        if (next === ']') return array;
        if (next !== ',') fail('a comma or ]');
      }
    }
    if (char === '"') {
      const end = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at));
      if (!end) return fail('a string');
      at += end[0].length;
      const string = JSON.parse(end[0]) as string;
      return string.endsWith('...') ? new AnyString(string) : string;
    }
    const literal = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(at));
    if (!literal) return fail('a value');
    at += literal[0].length;
    return JSON.parse(literal[0]);
  };
  const parsed = value();
  space();
  if (at !== text.length) fail('the end');
  return parsed;
}

/** Where `actual` differs from the documented pattern; empty when it matches. */
function matchJson(pattern: unknown, actual: unknown, path = '$'): string[] {
  const got = JSON.stringify(actual);
  if (pattern instanceof AnyString) {
    return typeof actual === 'string' ? [] : [`${path}: documented a string ("${pattern.shown}"), got ${got}`];
  }
  if (typeof pattern === 'string') {
    const shape = shapeOf(pattern);
    if (shape) {
      return typeof actual === 'string' && shape.pattern.test(actual)
        ? []
        : [`${path}: documented ${shape.name} (like "${pattern}"), got ${got}`];
    }
    return actual === pattern ? [] : [`${path}: documented ${JSON.stringify(pattern)}, got ${got}`];
  }
  if (pattern instanceof Object && 'members' in pattern) {
    const object = pattern as OpenObject;
    if (!actual || typeof actual !== 'object' || Array.isArray(actual)) {
      return [`${path}: documented an object, got ${got}`];
    }
    const record = actual as Record<string, unknown>;
    const problems: string[] = [];
    for (const [key, member] of object.members) {
      if (!(key in record)) problems.push(`${path}.${key}: documented, but missing from ${got}`);
      else problems.push(...matchJson(member, record[key], `${path}.${key}`));
    }
    if (!object.open) {
      const extra = Object.keys(record).filter((key) => !object.members.has(key));
      if (extra.length > 0) problems.push(`${path}: has ${extra.join(', ')}, which the README does not show (or ...)`);
    }
    return problems;
  }
  if (pattern instanceof Object && 'items' in pattern) {
    const array = pattern as OpenArray;
    if (!Array.isArray(actual)) return [`${path}: documented an array, got ${got}`];
    if (!array.open) {
      if (actual.length !== array.items.length) {
        return [`${path}: documented ${array.items.length} elements, got ${actual.length}: ${got}`];
      }
      return array.items.flatMap((item, index) => matchJson(item, actual[index], `${path}[${index}]`));
    }
    return array.items.flatMap((item, index) =>
      actual.some((element) => matchJson(item, element).length === 0)
        ? []
        : [`${path}: documented element ${index} (${JSON.stringify(item)}) is in none of ${got}`],
    );
  }
  return Object.is(pattern, actual) ? [] : [`${path}: documented ${JSON.stringify(pattern)}, got ${got}`];
}

/** A header value as documented, matched by shape where it holds a UUID or a stream position. */
function matchText(documented: string, actual: string): boolean {
  const pieces = documented.split(VOLATILE_IN_TEXT);
  const source = pieces
    .map((piece, index) => {
      if (index % 2 === 0) return piece.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      return shapeOf(piece)?.pattern.source.slice(1, -1) ?? piece;
    })
    .join('');
  return new RegExp(`^${source}$`, 'i').test(actual);
}

/** What a command printed, as an HTTP answer: curl -i's status line and headers, then the body. */
export interface Printed {
  status?: string;
  headers: Map<string, string>;
  body: string;
}

export function readPrinted(output: string): Printed {
  const headers = new Map<string, string>();
  if (!output.startsWith('HTTP/')) return { headers, body: output.trim() };
  const split = output.search(/\r?\n\r?\n/);
  const head = (split < 0 ? output : output.slice(0, split)).split(/\r?\n/);
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: head[0]?.trim(), headers, body: split < 0 ? '' : output.slice(split).trim() };
}

/** Where a command's output differs from the response the README documents; empty when it holds. */
export function matchResponse(documented: string[], output: string): string[] {
  const printed = readPrinted(output);
  const problems: string[] = [];
  let index = 0;
  const first = documented[0] ?? '';
  if (first.startsWith('HTTP/')) {
    index = 1;
    if (printed.status === undefined)
      problems.push(`documented the status line "${first}", but no status line was printed`);
    else if (printed.status !== first) problems.push(`documented "${first}", got "${printed.status}"`);
    for (; index < documented.length && /^[A-Za-z][A-Za-z0-9-]*:\s/.test(documented[index] ?? ''); index++) {
      const line = documented[index] ?? '';
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      const actual = printed.headers.get(name);
      if (actual === undefined) problems.push(`documented the header "${line}", which is missing`);
      else if (!matchText(value, actual)) problems.push(`documented the header "${line}", got "${name}: ${actual}"`);
    }
  }
  const body = documented.slice(index).join('\n').trim();
  if (body === '') return problems;
  let actual: unknown;
  try {
    actual = JSON.parse(printed.body);
  } catch {
    return [...problems, `documented the body ${body}, got one that is not JSON: ${printed.body.slice(0, 300)}`];
  }
  return [...problems, ...matchJson(parsePattern(body), actual)];
}

/**
 * The event names a prose comment lists (`# AccountOpened, Issued, Debited`: capitalised words and
 * commas only), which the command's output must hold; none for any other prose.
 */
export function namedEvents(prose: string | undefined): string[] {
  if (!prose || !/^[A-Z][A-Za-z]*(,\s*[A-Z][A-Za-z]*)*$/.test(prose)) return [];
  return prose.split(/,\s*/);
}
