import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeBackend, initBackend, type BackendInfo } from '../core/backend';
import type { AppInfo } from '../shared/api';

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

let backend: Promise<BackendInfo> | null = null;

/** Starts the compute backend once and reports it with the app's name and version. */
export async function appInfo(
  root: string,
  mode: AppInfo['mode'],
  extra: Pick<AppInfo, 'home' | 'features'>,
): Promise<AppInfo> {
  backend ??= initBackend();
  const info = await backend;
  return {
    ...readPackageInfo(root),
    mode,
    backend: { name: info.name, device: info.device },
    ...extra,
  };
}

export { describeBackend };
