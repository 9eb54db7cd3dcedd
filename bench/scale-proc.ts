// /proc and /sys readers for the scale benchmark. Everything here is a plain synchronous
// read: the sampler calls these ten times a second and must not allocate much or yield.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

export interface ProcSample {
  /** utime + stime of the whole thread group, in clock ticks. */
  ticks: number;
  /** stime alone: kernel work done on the process's behalf (sendto, recvmsg, softirqs run in its context). */
  sysTicks: number;
  rssKb: number;
  /** Peak RSS since start (or since resetPeakRss). */
  hwmKb: number;
}

let clkTck: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream Linux, but ask). */
export function clockTicksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** null once the process is gone (or a zombie, whose status has no memory lines). */
export function readProc(pid: number): ProcSample | null {
  let stat: string;
  let status: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: count fields from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After comm, field 3 (state) is index 0, so utime (14) is 11 and stime (15) is 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
  if (!rss || !hwm || !Number.isFinite(ticks)) return null;
  return { ticks, sysTicks: Number(fields[12]), rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
}

/** Resets VmHWM to the current RSS (clear_refs value 5, Linux >= 4.0), so each run gets its own peak. */
export function resetPeakRss(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Old kernel: the peak then covers the process's whole life, which the report says.
  }
}

export interface LinkCounters {
  txPackets: number;
  rxPackets: number;
}

export function readLink(iface: string): LinkCounters {
  const dir = `/sys/class/net/${iface}/statistics`;
  return {
    txPackets: Number(readFileSync(`${dir}/tx_packets`, 'latin1')),
    rxPackets: Number(readFileSync(`${dir}/rx_packets`, 'latin1')),
  };
}
