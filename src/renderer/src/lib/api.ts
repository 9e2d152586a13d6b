import { API_GLOBAL, type Api } from '../../../shared/api';

/** The typed API: the preload's bridge in Electron. */
export function getApi(): Api {
  const bridged = (window as unknown as Record<string, Api | undefined>)[API_GLOBAL];
  if (!bridged) throw new Error('The mDPO Studio API is not available in this window.');
  return bridged;
}
