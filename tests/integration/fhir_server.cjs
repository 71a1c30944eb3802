// Loopback FHIR R4 server for the integration tests: @medplum/fhir-router 4.5.2 `FhirRouter` over
// an in-memory `MemoryRepository`, behind node:http (../shared/reference/validation-tools.md
// section 4). Development use only: no auth, no validation, no persistence, 127.0.0.1 only.
//
//   node tests/integration/fhir_server.cjs [PORT] [--exit-with-stdin] [--strict-transactions]
//
// PORT 0 (the default) picks a free port. The first (and only) line written to stdout is the port
// once the server listens; diagnostics go to stderr. --exit-with-stdin: exit when stdin closes,
// so the server dies with the test process that started it even if that one is killed.
// Packages come from $BALL_NPM_TOOLS (default: <repo>/.npm-tools, filled by scripts/setup-npm).
//
// Interactions (whatever FhirRouter routes, relative to the base URL):
//   POST /  (transaction or batch Bundle), GET /<type>?<search>, GET /<type>/<id>,
//   POST /<type>, PUT /<type>/<id>; plus GET /metadata, answered here (FhirRouter has no route).
//
// Transactions: Medplum gives a `transaction` Bundle its all-or-nothing path only when
// `config.transactions` is set, and that path (src/batch.ts, BatchProcessor.run) rejects any
// transaction that has a conditional create (ifNoneExist) and more than 8 entries ("Transaction
// requires strict isolation but has too many entries", `maxSerializableTransactionEntries`, a
// Postgres isolation policy, not a FHIR rule) or more than 50 updates. Every mapped Bundle of ours
// creates its Patient with ifNoneExist, so by default the wrapper leaves `config.transactions`
// unset: the Bundle then goes through the same identity resolution (ifNoneExist search, urn:uuid
// rewriting, creates before updates) entry by entry, and a failed entry is reported in its own
// `response.status` instead of failing the whole Bundle. MemoryRepository.withTransaction does
// not roll back in either mode. --strict-transactions sets `config.transactions` (to reproduce).
'use strict';
const http = require('node:http');
const path = require('node:path');

const toolsDir = process.env.BALL_NPM_TOOLS || path.join(__dirname, '..', '..', '.npm-tools');
const medplum = (name) => require(path.join(toolsDir, 'node_modules', '@medplum', name));
const core = medplum('core');
const defs = medplum('definitions');
const { FhirRouter, MemoryRepository } = medplum('fhir-router');

const args = process.argv.slice(2);
const port = Number(args.find((a) => !a.startsWith('--')) ?? 0);
const strictTransactions = args.includes('--strict-transactions');
const MAX_BODY = 64 * 1024 * 1024;

// Search needs the R4 types and search parameters in @medplum/core's global schema.
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-resources.json'));
core.indexSearchParameterBundle(defs.readJson('fhir/r4/search-parameters.json'));

const router = new FhirRouter();
const repo = new MemoryRepository();

const capabilityStatement = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString(),
  kind: 'instance',
  software: { name: 'ball-fhir loopback (@medplum/fhir-router MemoryRepository)', version: '4.5.2' },
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
};

function send(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/fhir+json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

async function handle(req, body) {
  // FhirRouter wants a relative `url` with the query; `pathname` must stay empty (4.5.2 rejects it).
  const url = new URL(req.url, 'http://127.0.0.1');
  const relative = url.pathname.replace(/^\/+/, '') + url.search;
  if (req.method === 'GET' && url.pathname.replace(/\/+$/, '') === '/metadata') {
    return [200, capabilityStatement];
  }
  const request = {
    method: req.method,
    url: relative,
    pathname: '',
    body: body.length ? JSON.parse(body) : undefined,
    params: {},
    query: {},
    headers: req.headers,
    config: strictTransactions ? { transactions: true } : {},
  };
  const [outcome, resource] = await router.handleRequest(request, repo);
  return [core.getStatus(outcome), resource ?? outcome];
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      send(res, 413, core.badRequest('Request body too large'));
      req.destroy();
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    handle(req, Buffer.concat(chunks).toString('utf8'))
      .then(([status, body]) => send(res, status, body))
      .catch((err) => {
        const outcome = core.normalizeOperationOutcome(err);
        send(res, err instanceof SyntaxError ? 400 : core.getStatus(outcome), outcome);
      });
  });
});

server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${server.address().port}\n`);
});

if (args.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
