// Loads the NPM package .tgz of our profiles (profiles/ball-fhir.profiles-<version>.tgz) the way a
// consumer does: unpacks it (gzip + tar, members under package/), indexes every StructureDefinition
// with Medplum 4.5.2 and validates every example in package/example/ against the profile it claims.
// usage: node medplum_load_package.cjs <npm-tools dir> <package.tgz>
// stdout: {"name", "version", "profiles": n indexed, "unindexable": {url: message},
//          "examples": [{"id", "errors": [...]}]}
'use strict';
const fs = require('node:fs');
const zlib = require('node:zlib');
const path = require('node:path');
const [toolsDir, tgzPath] = process.argv.slice(2);
const core = require(path.join(toolsDir, 'node_modules', '@medplum', 'core'));
const defs = require(path.join(toolsDir, 'node_modules', '@medplum', 'definitions'));
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-types.json'));
core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-resources.json'));
function untar(buf) {
  const files = {};
  let off = 0;
  while (off + 512 <= buf.length) {
    const header = buf.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    let name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(header[156]);
    off += 512;
    const body = buf.subarray(off, off + size);
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(body.toString('utf8'));
      off += Math.ceil(size / 512) * 512;
      const next = buf.subarray(off, off + 512);
      const nsize = parseInt(next.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
      off += 512;
      if (m) files[m[1]] = buf.subarray(off, off + nsize);
      off += Math.ceil(nsize / 512) * 512;
      continue;
    }
    if (type === '0' || type === '\0') files[name] = body;
    off += Math.ceil(size / 512) * 512;
  }
  return files;
}
const files = untar(zlib.gunzipSync(fs.readFileSync(tgzPath)));
const manifest = JSON.parse(files['package/package.json']);
const sds = [];
const examples = [];
for (const [name, data] of Object.entries(files)) {
  if (!name.endsWith('.json') || name.endsWith('package.json') || name.includes('/.')) continue;
  const res = JSON.parse(data.toString('utf8'));
  if (name.startsWith('package/example/')) examples.push(res);
  else if (res.resourceType === 'StructureDefinition') sds.push(res);
}
const unindexable = {};
const indexed = [];
sds.sort((a, b) => (a.type === "Extension" ? 0 : 1) - (b.type === "Extension" ? 0 : 1));
for (const sd of sds) {
  try {
    core.indexStructureDefinitionBundle([sd]);
    indexed.push(sd);
  } catch (err) {
    unindexable[sd.url] = String(err.message || err);
  }
}
const out = { name: manifest.name, version: manifest.version, profiles: indexed.length, unindexable, examples: [] };
for (const ex of examples) {
  const url = ex.meta.profile[0];
  const profile = indexed.find((sd) => sd.url === url);
  if (!profile) continue;
  let issues = [];
  try {
    issues = core.validateResource(ex, { profile }) || [];
  } catch (err) {
    issues = (err.outcome && err.outcome.issue) || [{ severity: 'fatal', diagnostics: String(err) }];
  }
  out.examples.push({
    id: `${ex.resourceType}/${ex.id}`,
    errors: issues.filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${(i.expression || []).join(',')}: ${i.details ? i.details.text : i.diagnostics}`),
  });
}
process.stdout.write(JSON.stringify(out, null, 1));
