/** The README tour's reader and matcher (readme-tour.ts), without a stack: what holds and what fails. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import {
  exportFromCommand,
  fieldsOf,
  fillPlaceholders,
  matchResponse,
  namedEvents,
  readExamples,
  readTour,
  shellWords,
} from './readme-tour.ts';

const matcher = testSuite('README tour: reading and matching');

const TOUR = [
  '# microbank',
  '## A five-minute tour',
  'Some prose.',
  '```sh',
  'curl http://127.0.0.1:8081/accounts   # {"accounts":["john-account","mary-account"]}',
  "curl -i -X POST http://127.0.0.1:8085/transfers -H 'idempotency-key: tour-1' \\",
  '  -d \'{"amount":10}\'',
  '# HTTP/1.1 202 Accepted',
  '# location: /transfers/79bf89eb-08cd-4361-96af-f3055a4c7352',
  '# {"transfer":"79bf89eb-08cd-4361-96af-f3055a4c7352","status":"pending"}',
  "redis-cli -p 6380 XRANGE 'microbank:ledger:{john-account}' - +   # AccountOpened, Issued, Debited",
  'pnpm kill redis   # Redis too: restarted',
  '```',
  '```json',
  '{"not": "a command"}',
  '```',
  '## Next',
  '```sh',
  'echo not in the tour',
  '```',
].join('\n');

matcher('the tour is read from its section: commands, their responses and prose', () => {
  const steps = readTour(TOUR);
  assert.equal(
    steps.map((step) => step.command),
    [
      'curl http://127.0.0.1:8081/accounts',
      "curl -i -X POST http://127.0.0.1:8085/transfers -H 'idempotency-key: tour-1' -d '{\"amount\":10}'",
      "redis-cli -p 6380 XRANGE 'microbank:ledger:{john-account}' - +",
      'pnpm kill redis',
    ],
  );
  assert.equal(
    steps.map((step) => step.line),
    [5, 6, 11, 12],
  );
  assert.equal(steps[0]?.response, ['{"accounts":["john-account","mary-account"]}']);
  assert.equal(steps[1]?.response?.length, 3);
  assert.equal(namedEvents(steps[2]?.prose), ['AccountOpened', 'Issued', 'Debited']);
  assert.equal(namedEvents(steps[3]?.prose), []);
  assert.is(steps[3]?.response, undefined);
});

matcher("the README's own tour is readable, and documents responses", () => {
  const steps = readTour(readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'));
  assert.ok(steps.filter((step) => step.response).length >= 5);
});

matcher('shell words: quotes, variables, and anything else refused', () => {
  assert.equal(shellWords(`curl -H "authorization: Bearer $CRED" -d '{"a":1}' x`, { CRED: 's3cret' }), [
    'curl',
    '-H',
    'authorization: Bearer s3cret',
    '-d',
    '{"a":1}',
    'x',
  ]);
  assert.throws(() => shellWords('cat x | grep y', {}), /shell syntax/);
  assert.throws(() => shellWords('echo $UNSET', {}), /not set/);
  assert.throws(() => shellWords('ls *.ts', {}), /shell syntax/);
  assert.throws(() => shellWords('echo `date`', {}), /backticks/);
  assert.throws(() => shellWords('echo $(date)', {}), /only supported as export/);
  assert.is(fillPlaceholders('/transfers/<transfer>', { transfer: 'abc' }), '/transfers/abc');
  assert.throws(() => fillPlaceholders('/transfers/<transfer>', {}), /names no field/);
});

matcher('a body holds: same values, volatile ones by shape, ... for more', () => {
  assert.equal(
    matchResponse(['{"account":"john-account","balance":100}'], '{"account":"john-account","balance":100}\n'),
    [],
  );
  assert.equal(
    matchResponse(
      [
        '{"transfer":"79bf...","status":"completed",...,"debit":{"position":"1795746687613-0","account":"john-account"},...}',
      ],
      JSON.stringify({
        transfer: '0b1c9b0e-2a43-4bde-9d0e-3b6d8b6f3a11',
        status: 'completed',
        amount: 10,
        debit: { position: '1800000000000-3', account: 'john-account' },
        credit: {},
      }),
    ),
    [],
  );
});

matcher('a documented response that no longer holds fails, saying where', () => {
  const balance = '{"account":"john-account","balance":100}';
  assert.match(
    matchResponse(['{"account":"john-account","balance":110}'], balance).join(),
    /\$\.balance: documented 110, got 100/,
  );
  assert.match(
    matchResponse(['{"account":"john-account"}'], balance).join(),
    /has balance, which the README does not show/,
  );
  assert.match(
    matchResponse(['{"accounts":["john-account"]}'], '{"accounts":["john-account","x"]}').join(),
    /1 elements, got 2/,
  );
  assert.match(
    matchResponse(['{"debit":{"position":"1795746687613-0"}}'], '{"debit":{"position":"nope"}}').join(),
    /a stream position/,
  );
  assert.match(matchResponse(['{"a":1}'], 'not json').join(), /not JSON/);
});

matcher('curl -i: the status line and headers are checked, ids by shape', () => {
  const printed = [
    'HTTP/1.1 202 Accepted',
    'location: /transfers/0b1c9b0e-2a43-4bde-9d0e-3b6d8b6f3a11',
    'content-type: application/json',
    '',
    '{"transfer":"0b1c9b0e-2a43-4bde-9d0e-3b6d8b6f3a11","status":"pending"}',
  ].join('\r\n');
  const documented = [
    'HTTP/1.1 202 Accepted',
    'location: /transfers/79bf89eb-08cd-4361-96af-f3055a4c7352',
    '{"transfer":"79bf89eb-08cd-4361-96af-f3055a4c7352","status":"pending"}',
  ];
  assert.equal(matchResponse(documented, printed), []);
  assert.match(
    matchResponse(['HTTP/1.1 201 Created', ...documented.slice(1)], printed).join(),
    /documented "HTTP\/1.1 201 Created"/,
  );
  assert.match(matchResponse([documented[0] ?? '', 'location: /elsewhere/1', ''], printed).join(), /location/);
});

matcher('a documented response after a prose comment is refused, not left unchecked', () => {
  const tour = [
    '## A five-minute tour',
    '```sh',
    'curl http://127.0.0.1:8081/accounts   # the accounts',
    '#  {"accounts":[]}',
    '```',
  ];
  assert.throws(() => readTour(tour.join('\n')), /line 4: a response after a prose comment is not checked/);
  // Below the command with no prose, the same line (however indented) is its response.
  const [step] = readTour(
    ['## A five-minute tour', '```sh', 'curl http://127.0.0.1:8081/accounts', '#  {"accounts":[]}', '```'].join('\n'),
  );
  assert.equal(step?.response, ['{"accounts":[]}']);
});

matcher("a document's examples: every sh block but those marked not run, and only sh", () => {
  const doc = [
    '# API',
    '```sh',
    'curl http://127.0.0.1:8081/accounts   # {"accounts":[]}',
    '```',
    '<!-- not run: it needs a Kubernetes cluster -->',
    '',
    '```sh',
    'kubectl apply -k k8s',
    '```',
    '```',
    '## not a heading that ends anything',
    '$ redis-cli PING',
    '```',
    '## Later section',
    '```bash',
    'id=$(redis-cli -p 6380 XADD s * a 1)',
    '```',
  ].join('\n');
  const steps = readExamples(doc);
  assert.equal(
    steps.map((step) => [step.line, step.command]),
    [
      [3, 'curl http://127.0.0.1:8081/accounts'],
      [16, 'id=$(redis-cli -p 6380 XADD s * a 1)'],
    ],
  );
  // A shell fence the reader would not run is refused, not skipped.
  assert.throws(() => readExamples(['```console', 'curl x', '```'].join('\n')), /line 1: a shell example's fence/);
  assert.throws(() => readExamples(['```sh title=x', 'curl x', '```'].join('\n')), /line 1/);
  // A marker needs its reason.
  assert.equal(readExamples(['<!-- not run: -->', '```sh', 'kubectl get pods', '```'].join('\n')).length, 1);
  assert.equal(exportFromCommand(steps[1]?.command ?? ''), { name: 'id', inner: 'redis-cli -p 6380 XADD s * a 1' });
  assert.equal(exportFromCommand('export CRED=$(cat x)'), { name: 'CRED', inner: 'cat x' });
});

matcher('<a.b> names a nested field of a response before', () => {
  const fields = fieldsOf({ transfer: 't-1', debit: { position: '1-0' }, credit: { position: '2-0' } });
  assert.is(fillPlaceholders('/balance/x?position=<debit.position>', fields), '/balance/x?position=1-0');
  assert.is(fillPlaceholders('<credit.position> <transfer>', fields), '2-0 t-1');
});

matcher.run();
