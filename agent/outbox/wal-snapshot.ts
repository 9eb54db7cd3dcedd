import { existsSync, readFileSync } from 'node:fs';

// A read-only view of a WAL-mode database that touches nothing on disk. SQLite cannot open
// a WAL database read-only without a -shm file: it creates -shm (and -wal), root-owned when
// run as root. When no -shm exists no writer is running, so we can do what SQLite's WAL
// recovery does, in memory: take the database file, apply the WAL's committed frames, and
// hand the image to SQLite (sqlite3_deserialize via better-sqlite3's Buffer constructor).

const WAL_HEADER = 32;
const FRAME_HEADER = 24;
const MAGIC = 0x377f0682;
const WAL_VERSION = 3007000;

/** SQLite's WAL checksum (fibonacci-weighted sums of 32-bit words) over buf[start, end). */
function checksum(buf: Buffer, start: number, end: number, s: [number, number], littleEndian: boolean): [number, number] {
  let [s1, s2] = s;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let i = start; i < end; i += 8) {
    s1 = (s1 + dv.getUint32(i, littleEndian) + s2) >>> 0;
    s2 = (s2 + dv.getUint32(i + 4, littleEndian) + s1) >>> 0;
  }
  return [s1, s2];
}

function dbPageSize(db: Buffer): number | undefined {
  if (db.length < 100) return undefined;
  const v = db.readUInt16BE(16);
  return v === 1 ? 65536 : v;
}

/**
 * The committed frames of a WAL as page number -> offset of the page data, and the database
 * size in pages after the last commit. Stops at the first frame that does not check out
 * (salt or checksum), like SQLite's recovery; frames after the last commit are ignored.
 * `end` is the offset just past the last committed frame.
 */
export function committedFrames(wal: Buffer, pageSize: number | undefined): { pageSize: number; pages: Map<number, number>; dbPages: number; end: number } | undefined {
  if (wal.length < WAL_HEADER) return undefined;
  const magic = wal.readUInt32BE(0);
  if ((magic & 0xfffffffe) !== MAGIC || wal.readUInt32BE(4) !== WAL_VERSION) return undefined;
  const size = wal.readUInt32BE(8);
  if (size < 512 || size > 65536 || (size & (size - 1)) !== 0 || (pageSize !== undefined && size !== pageSize)) return undefined;
  const littleEndian = (magic & 1) === 0;
  let sum = checksum(wal, 0, 24, [0, 0], littleEndian);
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28)) return undefined;
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  const pending = new Map<number, number>();
  const pages = new Map<number, number>();
  let dbPages = 0;
  let end = WAL_HEADER;
  for (let off = WAL_HEADER; off + FRAME_HEADER + size <= wal.length; off += FRAME_HEADER + size) {
    const pgno = wal.readUInt32BE(off);
    const commitSize = wal.readUInt32BE(off + 4);
    if (pgno === 0 || wal.readUInt32BE(off + 8) !== salt1 || wal.readUInt32BE(off + 12) !== salt2) break;
    sum = checksum(wal, off, off + 8, sum, littleEndian);
    sum = checksum(wal, off + FRAME_HEADER, off + FRAME_HEADER + size, sum, littleEndian);
    if (sum[0] !== wal.readUInt32BE(off + 16) || sum[1] !== wal.readUInt32BE(off + 20)) break;
    pending.set(pgno, off + FRAME_HEADER);
    if (commitSize !== 0) {
      for (const [p, o] of pending) pages.set(p, o);
      pending.clear();
      dbPages = commitSize;
      end = off + FRAME_HEADER + size;
    }
  }
  return pages.size === 0 ? undefined : { pageSize: size, pages, dbPages, end };
}

/**
 * The database as of its last commit (file + WAL), as a buffer SQLite can open read-only.
 * Marked as a rollback-journal database in the copy's header: SQLite would otherwise look
 * for a WAL next to an in-memory database and fail.
 */
export function snapshotImage(path: string): Buffer {
  const db = readFileSync(path);
  const walPath = `${path}-wal`;
  const wal = existsSync(walPath) ? readFileSync(walPath) : undefined;
  const frames = wal === undefined ? undefined : committedFrames(wal, dbPageSize(db));
  let image = db;
  if (wal !== undefined && frames !== undefined) {
    image = Buffer.alloc(frames.dbPages * frames.pageSize);
    db.copy(image, 0, 0, Math.min(db.length, image.length));
    for (const [pgno, off] of frames.pages) {
      if (pgno <= frames.dbPages) wal.copy(image, (pgno - 1) * frames.pageSize, off, off + frames.pageSize);
    }
  }
  if (image.length >= 100) {
    image[18] = 1;
    image[19] = 1;
  }
  return image;
}
