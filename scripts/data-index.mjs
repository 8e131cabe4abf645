// Write www/data/index.json: which CIFAR archives a deployer placed in www/data/, so the page can
// offer them without probing (a probe of an absent file is a 404 in every visitor's console).
// `npm run build` runs it; after placing or removing an archive, run it again (or the build).
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const data = fileURLToPath(new URL('../www/data/', import.meta.url));
const ARCHIVES = { 'cifar-10': 'cifar-10-binary.tar.gz', 'cifar-100': 'cifar-100-binary.tar.gz' };
const cifar = Object.keys(ARCHIVES).filter((name) => existsSync(`${data}${ARCHIVES[name]}`));
writeFileSync(`${data}index.json`, `${JSON.stringify({ cifar })}\n`);
console.error(`[dropout-lab] www/data/index.json: CIFAR archives ${cifar.join(', ') || 'none'}`);
