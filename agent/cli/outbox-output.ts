import type { OutboxStats } from '../core/outbox.js';

const mb = (b: number): string => `${(b / 1048576).toFixed(2)} MB`;

/** `fleetprobe outbox stats`, for a person. */
export function formatOutboxStats(path: string, s: OutboxStats): string {
  return [
    `outbox ${path}`,
    `  stream          ${s.stream}`,
    `  rows            ${s.rows} (${mb(s.bytes)} of records, ${mb(s.file_bytes)} on disk)`,
    `  oldest          ${s.oldest ?? '-'}`,
    `  newest          ${s.newest ?? '-'}`,
    `  generated       ${s.generated_total}`,
    `  delivered       ${s.delivered_total}`,
    `  dropped_total   ${s.dropped_total}`,
    `  last delivery   ${s.last_delivery ?? 'never'}`,
    `  corrupt files   ${s.corrupt_total}`,
  ].join('\n');
}
