import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface PackageJson {
  productName?: string;
  name: string;
  version: string;
}

/** Reads name and version from the package.json at `root` (the app's install folder). */
export function readPackageInfo(root: string): { name: string; version: string } {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  return { name: pkg.productName ?? pkg.name, version: pkg.version };
}
