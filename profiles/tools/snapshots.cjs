// Generates the snapshots of the StructureDefinitions of one package with the Outburn
// fhir-snapshot-generator, offline (../shared/reference/validation-tools.md section 3).
//
// usage: node snapshots.cjs <npm-tools node_modules> <fsg cache dir> <package id> <version> <out dir>
//
// The cache dir (prepared by build_package.py) holds hl7.fhir.r4.core#4.0.1 without its official
// .index.json (so it is re-indexed with `derivation`), stub packages hl7.terminology.r4#6.0.2 and
// hl7.fhir.uv.extensions.r4#5.2.0 (only a package.json: the implicit dependencies must resolve)
// and our package with SUSHI's differentials. registryUrl 'n/a' keeps it from waiting on registries.
// Writes each StructureDefinition, with its snapshot, to <out dir>/<same file name>.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { createRequire } = require('node:module');

async function main() {
  const [nodeModules, cachePath, packageId, version, outDir] = process.argv.slice(2);
  if (!outDir) {
    throw new Error('usage: snapshots.cjs <node_modules> <cache> <package id> <version> <out dir>');
  }
  const req = createRequire(path.join(path.resolve(nodeModules), 'noop.js'));
  const { FhirPackageExplorer } = req('fhir-package-explorer');
  const { FhirSnapshotGenerator } = req('fhir-snapshot-generator');
  const problems = [];
  const logger = {
    debug: () => {},
    info: () => {},
    warn: (msg) => process.stderr.write(`snapshots: warning: ${msg}\n`),
    error: (msg) => {
      problems.push(String(msg));
      process.stderr.write(`snapshots: error: ${msg}\n`);
    },
  };
  const fpe = await FhirPackageExplorer.create({
    context: [`${packageId}#${version}`],
    cachePath,
    registryUrl: 'n/a',
    fhirVersion: '4.0.1',
    skipExamples: true,
    logger,
  });
  const fsg = await FhirSnapshotGenerator.create({
    fpe,
    fhirVersion: '4.0.1',
    cacheMode: 'none',
    logger,
  });
  const packageDir = path.join(cachePath, `${packageId}#${version}`, 'package');
  const files = fs.readdirSync(packageDir).filter((f) => f.startsWith('StructureDefinition-')).sort();
  fs.mkdirSync(outDir, { recursive: true });
  for (const file of files) {
    const sd = JSON.parse(fs.readFileSync(path.join(packageDir, file), 'utf8'));
    const withSnapshot = await fsg.getSnapshot(sd.url, { id: packageId, version });
    if (!withSnapshot || !withSnapshot.snapshot || !withSnapshot.snapshot.element) {
      throw new Error(`no snapshot generated for ${sd.url}`);
    }
    fs.writeFileSync(path.join(outDir, file), JSON.stringify(withSnapshot, null, 2) + '\n');
  }
  if (problems.length > 0) {
    throw new Error(`${problems.length} error(s) while generating snapshots`);
  }
}

main().catch((err) => {
  process.stderr.write(`snapshots: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
