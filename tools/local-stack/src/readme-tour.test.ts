/**
 * The README's five-minute tour and the examples of docs/*.md, run for real (issue 18): the
 * commands are read from README.md's tour and from every ```sh block of docs/ not marked
 * `<!-- not run: ... -->` (MICROBANK_TOUR_README names another file for the README, to see the test
 * fail on a changed copy), run one by one against a stack of their own per document, started as
 * the other stack tests start it, and each documented response checked (the convention is in
 * readme-tour.ts). Needs `pnpm build` first, like every stack test.
 *
 * What the test changes in the commands, and only this:
 * - Ports: the stack runs in its own temporary data dir on free ports (the README's may be in use),
 *   so each port the README names is mapped to the port of the component that has it by default
 *   (Redis 6380, dashboard 8080, account-system 8081, balance 8082, john-account 8083,
 *   mary-account 8084, transfer-1 8085, transfer-2 8086): in `127.0.0.1:<port>` and after
 *   redis-cli's `-p`. A port no component has by default fails the test.
 * - `.data/...` paths are the test's data dir, which `pnpm kill` and `pnpm chaos` also get as
 *   MICROBANK_DATA_DIR.
 * - `<name>` is the field `name` of the latest response that had one (the transfer made above).
 * - `./bank start` is the stack the test started (startStackProcess runs the same main.ts);
 *   `source <file>` is the environment the test already runs in: both are only checked to exist.
 * Each command runs with execFile (no shell): the tour's quotes and `$NAME` are read by
 * shellWords, `export NAME=$(...)` runs the inner command and keeps its output. A command must
 * exit 0. A read-only command (curl without -X or -d, redis-cli XRANGE...) is run again until its
 * output holds what is documented or 30 s pass, since the bank answers eventually (a transfer
 * completes, a killed service comes back); any other command runs once.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import {
  exportFromCommand,
  fieldsOf,
  fillPlaceholders,
  matchResponse,
  namedEvents,
  readExamples,
  readPrinted,
  readTour,
  shellWords,
  type TourStep,
} from './readme-tour.ts';
import { DEFAULT_PORT_BASE, DEFAULT_REDIS_PORT, planStack, type StackPlan } from './stack-plan.ts';
import { type StackProcess, startStackProcess } from './stack-process.ts';

const run = promisify(execFile);
const README = process.env.MICROBANK_TOUR_README || join(REPO_ROOT, 'README.md');

/** A document whose commands run, each on a stack of its own. */
interface Document {
  /** How failures name it: README, docs/api.md. */
  name: string;
  steps: TourStep[];
}
const documents: Document[] = [
  { name: 'README', steps: readTour(readFileSync(README, 'utf8')) },
  ...readdirSync(join(REPO_ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .sort()
    .map((file) => ({
      name: `docs/${file}`,
      steps: readExamples(readFileSync(join(REPO_ROOT, 'docs', file), 'utf8')),
    }))
    .filter((document) => document.steps.length > 0),
];
/** The documents whose examples run today: one that stops yielding any (a fence's language changed, say) fails. */
const RUNNING = ['README', 'docs/api.md', 'docs/operations.md', 'docs/streams.md'];
for (const name of RUNNING) {
  if (!documents.some((document) => document.name === name))
    throw new Error(`${name} no longer has an example that runs`);
}
const READ_ONLY_REDIS = new Set(['XRANGE', 'XREVRANGE', 'XLEN', 'XINFO', 'GET', 'HGETALL', 'TYPE', 'PING', 'SCAN']);
const EVENTUALLY_MS = 30_000;

interface Context {
  dataDir: string;
  stack: StackProcess;
  /** Each documented port, and the started component's port that stands for it. */
  ports: Map<number, number>;
  /** What `export` set, for the commands after it. */
  exported: Record<string, string>;
  /** Fields of the responses so far, for `<name>`. */
  fields: Record<string, string>;
}

function documentSuite(document: Document) {
  const suite = testSuite<Context>(`${document.name}, run`, {} as Context);
  suite.before((ctx) => startStack(ctx));
  suite.after((ctx) => stopStack(ctx));
  for (const step of document.steps) {
    suite(`${document.name} line ${step.line}: ${step.command.slice(0, 90)}`, (ctx) => runStep(ctx, document, step));
  }
  suite.run();
}

async function startStack(ctx: Context): Promise<void> {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-tour-'));
  ctx.exported = {};
  ctx.fields = {};
  try {
    ctx.stack = await startStackProcess(ctx.dataDir);
    ctx.ports = await portMap(ctx.stack.plan);
  } catch (error) {
    // uvu does not print a failing hook's error: say it here.
    console.error((error as Error).message);
    throw error;
  }
}

async function stopStack(ctx: Context): Promise<void> {
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
}

/** The README's ports (the stack's defaults) to the started stack's, component by component. */
async function portMap(plan: StackPlan): Promise<Map<number, number>> {
  const documented = await planStack({
    dataDir: plan.dataDir,
    portBase: DEFAULT_PORT_BASE,
    redisPort: DEFAULT_REDIS_PORT,
    extraAccounts: 0,
  });
  const ports = new Map([[documented.redisPort, plan.redisPort]]);
  for (const spec of documented.services) {
    const started = plan.services.find((candidate) => candidate.name === spec.name);
    if (started) ports.set(spec.port, started.port);
  }
  return ports;
}

/** A command's words with the README's ports and .data/ made the test stack's. */
function localise(ctx: Context, words: string[]): string[] {
  const port = (documented: string) => {
    const mapped = ctx.ports.get(Number(documented));
    if (mapped === undefined) throw new Error(`the tour names port ${documented}, which no component has by default`);
    return String(mapped);
  };
  return words.map((word, index) => {
    if (words[0] === 'redis-cli' && words[index - 1] === '-p') return port(word);
    if (word === '.data' || word.startsWith('.data/')) return join(ctx.dataDir, word.slice('.data'.length));
    return word.replace(/\b(127\.0\.0\.1|localhost):(\d+)/g, (_, host: string, documented: string) => {
      return `${host}:${port(documented)}`;
    });
  });
}

const isReadOnly = (words: string[]) => {
  if (words[0] === 'curl') return !words.some((word) => /^(-X|--request|-d|--data.*|-F|--form|-T)$/.test(word));
  if (words[0] === 'redis-cli') {
    const command = words
      .slice(1)
      .find((word, index, rest) => !word.startsWith('-') && !/^-/.test(rest[index - 1] ?? ''));
    return READ_ONLY_REDIS.has(command?.toUpperCase() ?? '');
  }
  return false;
};

interface Ran {
  code: number;
  output: string;
}

async function runWords(ctx: Context, words: string[]): Promise<Ran> {
  const [file, ...args] = words;
  if (!file) throw new Error('an empty command');
  try {
    const { stdout } = await run(file, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...ctx.exported, MICROBANK_DATA_DIR: ctx.dataDir },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      // pnpm chaos runs for its kills; anything else answers in seconds.
      timeout: file === 'pnpm' && args[0] === 'chaos' ? 300_000 : 20_000,
    });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.message}`,
    };
  }
}

async function runStep(ctx: Context, document: Document, step: TourStep): Promise<void> {
  const exported = exportFromCommand(step.command);
  if (exported) {
    const ran = await runWords(ctx, localise(ctx, shellWords(exported.inner, { ...process.env, ...ctx.exported })));
    assert.is(ran.code, 0, `${exported.inner} exited ${ran.code}: ${ran.output}`);
    assert.ok(ran.output.trim() !== '', `${exported.inner} printed nothing to export`);
    ctx.exported[exported.name] = ran.output.trim();
    return;
  }
  const words = shellWords(fillPlaceholders(step.command, ctx.fields), { ...process.env, ...ctx.exported });
  if (words[0] === './bank' && words[1] === 'start') {
    assert.ok(existsSync(join(REPO_ROOT, 'bank')), './bank is gone');
    return;
  }
  if (words[0] === 'source') {
    assert.ok(existsSync(join(REPO_ROOT, words[1] ?? '')), `${words[1]} is gone`);
    return;
  }
  const command = localise(ctx, words);
  const events = namedEvents(step.prose);
  const problemsOf = (ran: Ran): string[] => {
    if (ran.code !== 0) return [`exited ${ran.code}: ${ran.output.slice(-2000)}`];
    if (/^(\(error\)|ERR|WRONGTYPE)/m.test(ran.output)) return [`answered an error: ${ran.output.slice(0, 500)}`];
    const problems = step.response ? matchResponse(step.response, ran.output) : [];
    for (const event of events) {
      if (!new RegExp(`^${event}$`, 'm').test(ran.output)) problems.push(`the output holds no ${event} event`);
    }
    return problems;
  };
  let ran: Ran;
  if (isReadOnly(command)) {
    let last: { ran: Ran; problems: string[] } | undefined;
    try {
      ({ ran } = await waitFor(
        `${document.name} line ${step.line} to hold`,
        async () => {
          const attempt = await runWords(ctx, command);
          last = { ran: attempt, problems: problemsOf(attempt) };
          return last;
        },
        ({ problems }) => problems.length === 0,
        { timeoutMs: EVENTUALLY_MS, intervalMs: 100 },
      ));
    } catch {
      assert.unreachable(failure(document, step, last?.problems ?? ['never ran'], last?.ran.output ?? ''));
      return;
    }
    keepFields(ctx, step, ran);
  } else {
    ran = await runWords(ctx, command);
    // Kept even when the answer is not the documented one, so that the next steps still run.
    keepFields(ctx, step, ran);
    const problems = problemsOf(ran);
    if (problems.length > 0) assert.unreachable(failure(document, step, problems, ran.output));
  }
}

function keepFields(ctx: Context, step: TourStep, ran: Ran): void {
  if (!step.response) return;
  try {
    fieldsOf(JSON.parse(readPrinted(ran.output).body), ctx.fields);
  } catch {
    // A body that is not JSON has no fields to offer.
  }
}

const failure = (document: Document, step: TourStep, problems: string[], output: string) =>
  `${document.name} line ${step.line}: ${step.command}\n  ${problems.join('\n  ')}\n  it printed: ${output.slice(0, 1500)}`;

for (const document of documents) documentSuite(document);
