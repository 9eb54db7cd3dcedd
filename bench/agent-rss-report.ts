// Markdown for the agent RSS benchmark: one memory table and one facts table per phase,
// and the growth notes. Kept apart from the phases so the runner reads as the procedure.
import { fmt } from './stats.js';
import { memStats, ROLES, TAIL_S, type MemStats, type OutboxSample, type Recording, type Role } from './agent-rss-sampler.js';

export interface PhaseReport {
  title: string;
  /** What the phase does, one line under the title. */
  what: string;
  rec: Recording;
  agentPid: number;
  /** Samples before this many seconds are warm-up: start and slope are taken after it. */
  warmupS: number;
  facts: [string, string][];
}

/** A process grows if it ends this much above where it started, or trends this fast. */
export const GROWTH_MIB = 2;
export const GROWTH_MIB_PER_HOUR = 20;
/** Below this span a fitted slope is GC noise extrapolated to an hour: not shown or judged. */
export const MIN_SLOPE_SPAN_S = 30;

const slopeOf = (s: MemStats): number | null => (s.spanS >= MIN_SLOPE_SPAN_S ? s.slopePerHour : null);
/** Only for phases long enough that the tail is a part of the fit, not all of it. */
const tailOf = (s: MemStats): number | null => (s.spanS >= 2 * TAIL_S ? s.tailSlopePerHour : null);
const tailText = (s: MemStats): string => (tailOf(s) === null ? '-' : signed(tailOf(s)!));

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);
const signed = (v: number, digits = 1): string => `${v >= 0 ? '+' : ''}${fmt(v, digits)}`;

export function firstOutbox(rec: Recording): OutboxSample | null {
  return rec.outbox[0] ?? null;
}

export function lastOutbox(rec: Recording): OutboxSample | null {
  return rec.outbox[rec.outbox.length - 1] ?? null;
}

/** Outbox facts every phase shares: rows, file size, what was generated and delivered. */
export function outboxFacts(rec: Recording): [string, string][] {
  const a = firstOutbox(rec);
  const b = lastOutbox(rec);
  if (!a || !b) return [['outbox', 'no sample']];
  const maxRows = Math.max(...rec.outbox.map((s) => s.rows));
  const maxFile = Math.max(...rec.outbox.map((s) => s.fileBytes));
  return [
    ['outbox rows, start → end (max)', `${a.rows} → ${b.rows} (${maxRows})`],
    ['outbox file + WAL MB, start → end (max)', `${mb(a.fileBytes)} → ${mb(b.fileBytes)} (${mb(maxFile)})`],
    ['results generated / delivered / dropped in the phase', `${b.generated - a.generated} / ${b.delivered - a.delivered} / ${b.dropped - a.dropped}`],
  ];
}

function memRow(role: Role, s: MemStats | null, pids: string): string {
  if (!s) return `| ${role} (${pids}) | - | - | - | - | - | - | - | - |`;
  return `| ${role} (${pids}) | ${fmt(s.start, 1)} | ${fmt(s.end, 1)} | ${signed(s.end - s.start)} | ${fmt(s.maxSampled, 1)} / ${s.peak === null ? '-' : fmt(s.peak, 1)} | ${slopeOf(s) === null ? `- (${fmt(s.spanS, 0)} s)` : `${signed(s.slopePerHour)} (${s.samples} samples, ${fmt(s.spanS, 0)} s)`} | ${tailText(s)} | ${fmt(s.anonStart, 1)} → ${fmt(s.anonEnd, 1)} |`;
}

export function phaseMarkdown(p: PhaseReport): string {
  const out = [`### ${p.title}`, '', p.what, ''];
  out.push(`| process (pid) | RSS start MiB | RSS end MiB | Δ MiB | RSS max sampled / VmHWM MiB | slope MiB/h | slope of the last ${TAIL_S} s, MiB/h | anon start → end MiB |`);
  out.push('|---|---|---|---|---|---|---|---|');
  out.push(memRow('main', memStats(p.rec, 'main', p.warmupS), String(p.agentPid)));
  out.push(memRow('engine', memStats(p.rec, 'engine', p.warmupS), p.rec.enginePids.join(', ')));
  const a = memStats(p.rec, 'main', p.warmupS);
  const b = memStats(p.rec, 'engine', p.warmupS);
  // The highest sum of one sample, not the sum of two peaks that may be minutes apart.
  const maxTotal = Math.max(...p.rec.rss.map((r) => (r.main && r.engine ? r.main.rss + r.engine.rss : 0))) / 1024;
  if (a && b) out.push(`| **total** | ${fmt(a.start + b.start, 1)} | ${fmt(a.end + b.end, 1)} | ${signed(a.end + b.end - a.start - b.start)} | ${fmt(maxTotal, 1)} (sampled) | ${slopeOf(a) === null ? '-' : signed(a.slopePerHour + b.slopePerHour)} | ${tailOf(a) === null ? '-' : signed(a.tailSlopePerHour + b.tailSlopePerHour)} | ${fmt(a.anonStart + b.anonStart, 1)} → ${fmt(a.anonEnd + b.anonEnd, 1)} |`);
  out.push('', '| fact | value |', '|---|---|');
  for (const [k, v] of p.facts) out.push(`| ${k} | ${v} |`);
  out.push('');
  return out.join('\n');
}

/** One line per process and phase that grew past the thresholds; empty when all is flat. */
export function growthNotes(phases: readonly PhaseReport[]): string[] {
  const notes: string[] = [];
  for (const p of phases) {
    for (const role of ROLES) {
      const s = memStats(p.rec, role, p.warmupS);
      if (!s) continue;
      const delta = s.end - s.start;
      const perHour = slopeOf(s);
      if (delta > GROWTH_MIB || (perHour !== null && perHour > GROWTH_MIB_PER_HOUR)) {
        const trend = perHour === null ? `too short (${fmt(s.spanS, 0)} s) for a slope` : `slope ${signed(perHour)} MiB/h (last ${TAIL_S} s: ${tailText(s)})`;
        const step = `largest single step ${signed(s.maxStep)} MiB at ${fmt(s.maxStepAt, 0)} s`;
        notes.push(`${p.title}: ${role} grew ${signed(delta)} MiB (${fmt(s.start, 1)} → ${fmt(s.end, 1)}), ${trend}, ${step}; anonymous ${fmt(s.anonStart, 1)} → ${fmt(s.anonEnd, 1)} MiB`);
      }
    }
  }
  return notes;
}

/** Every RSS sample of every phase, for plotting: phase,t_s,<role>_rss_kb,<role>_anon_kb... */
export function samplesCsv(phases: readonly PhaseReport[]): string {
  const lines = ['phase,t_s,main_rss_kb,main_anon_kb,engine_rss_kb,engine_anon_kb'];
  phases.forEach((p, i) => {
    for (const s of p.rec.rss) lines.push([i + 1, s.t.toFixed(2), s.main?.rss ?? '', s.main?.anon ?? '', s.engine?.rss ?? '', s.engine?.anon ?? ''].join(','));
  });
  return `${lines.join('\n')}\n`;
}
