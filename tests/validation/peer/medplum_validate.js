// Peer validator for the cross-check test and benchmarks/validate.py: Medplum 4.5.2
// `validateResource` (../shared/reference/validation-tools.md section 2).
// stdin: {"mode": "validate" | "bench", "resources": [...], "repeat": n}
// stdout (validate): [{"ok": bool, "issues": [{severity, code, expression, diagnostics}]}, ...]
// stdout (bench): {"seconds": s, "count": n, "load_seconds": s}
'use strict';
const path = require('path');
const toolsDir = process.env.BALL_NPM_TOOLS || path.join(__dirname, '..', '..', '..', '.npm-tools');
const core = require(path.join(toolsDir, 'node_modules', '@medplum', 'core'));
const defs = require(path.join(toolsDir, 'node_modules', '@medplum', 'definitions'));

const t0 = process.hrtime.bigint();
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-resources.json'));
const loadSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

function check(resource) {
  try {
    const issues = core.validateResource(resource) || [];
    return { ok: true, issues: issues.map(simplify) };
  } catch (err) {
    const outcome = err && err.outcome;
    if (outcome && outcome.issue) {
      return { ok: !outcome.issue.some((i) => i.severity === 'error' || i.severity === 'fatal'),
               issues: outcome.issue.map(simplify) };
    }
    return { ok: false, issues: [{ severity: 'fatal', code: 'exception', expression: [], diagnostics: String(err) }] };
  }
}

function simplify(issue) {
  return {
    severity: issue.severity,
    code: issue.code,
    expression: issue.expression || [],
    diagnostics: issue.diagnostics || (issue.details && issue.details.text) || '',
  };
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const request = JSON.parse(input);
  if (request.mode === 'bench') {
    const repeat = request.repeat || 1;
    let best = Infinity;
    for (let r = 0; r < repeat; r++) {
      const start = process.hrtime.bigint();
      for (const resource of request.resources) check(resource);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
    }
    process.stdout.write(JSON.stringify({ seconds: best, count: request.resources.length, load_seconds: loadSeconds }));
  } else {
    process.stdout.write(JSON.stringify(request.resources.map(check)));
  }
});
