import { describeBackend, initBackend, type BackendInfo } from '../core/backend';
import type { AppInfo } from '../shared/api';
import { readPackageInfo } from './package-info';

export { readPackageInfo };

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
