import type { Logger } from '../core/logger.js';
import type { FreeSpace } from './disk-space.js';

export interface OutboxOptions {
  path: string;
  max_mb: number;
  max_age_days?: number;
  synchronous: 'full' | 'normal';
  logger: Logger;
  now?: () => Date;
  /** Free bytes on the file system of a directory (default: statfs); for tests. */
  freeSpace?: FreeSpace;
}
