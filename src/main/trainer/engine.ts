/**
 * The real training engine: adapts src/core/train's loop to the trainer protocol.
 * Wired once src/core/train lands its loop (see src/main/README.md).
 */
import type { Engine } from './protocol';

export const engine: Engine = async () => {
  throw new Error('The training loop (src/core/train) is not in this build yet.');
};
