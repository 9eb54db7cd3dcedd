// Called by scripts/build-deb once the addons are compiled:
//   node stage-node-modules.js <app dir> <copyright file to write> <year>
// Writes the copyright file for the runtime packages, then prunes node_modules to them.
import { writeFileSync } from 'node:fs';
import { copyrightFile } from './copyright.js';
import { pruneNodeModules, runtimePackages } from './node-modules.js';

const [appDir, copyrightPath, year] = process.argv.slice(2);
if (!appDir || !copyrightPath || !year) {
  console.error('usage: stage-node-modules <app dir> <copyright file> <year>');
  process.exit(2);
}
try {
  writeFileSync(copyrightPath, copyrightFile(appDir, runtimePackages(appDir), Number(year)));
  const kept = pruneNodeModules(appDir);
  console.log(`stage-node-modules: ${kept.length} runtime packages kept`);
} catch (err) {
  console.error(`stage-node-modules: ${(err as Error).message}`);
  process.exit(1);
}
