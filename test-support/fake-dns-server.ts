import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** A record the fake server answers with. */
export type FakeRecord =
  | { type: 'A'; address: string; ttl: number }
  | { type: 'AAAA'; address: string; ttl: number }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string; ttl: number };

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

/**
 * A tiny authoritative DNS server on UDP 127.0.0.1 for tests: answers A, AAAA and SRV
 * questions from `records` (NXDOMAIN for an unknown name, an empty answer for a known name
 * without that type), or SERVFAIL for everything while `failing`. Real datagrams, real
 * resolver: point a `dns.Resolver` at `server` ("127.0.0.1:port").
 */
export class FakeDnsServer {
  /** name (lower case, no trailing dot) → its records. */
  readonly records = new Map<string, FakeRecord[]>();
  /** Answer SERVFAIL to every question. */
  failing = false;
  /** Questions received, as `"TYPE name"`. */
  readonly queries: string[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeDnsServer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const server = new FakeDnsServer(socket, socket.address().port);
    socket.on('message', (msg, rinfo) => server.answer(msg, rinfo));
    return server;
  }

  /** `"127.0.0.1:port"`, for `Resolver.setServers`. */
  get server(): string {
    return `127.0.0.1:${this.port}`;
  }

  set(name: string, records: FakeRecord[]): void {
    this.records.set(name.toLowerCase(), records);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 12) return;
    // The question: labels from byte 12, then QTYPE and QCLASS.
    let off = 12;
    const labels: string[] = [];
    while (off < msg.length && msg[off] !== 0) {
      const len = msg[off]!;
      labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'));
      off += 1 + len;
    }
    off++;
    if (off + 4 > msg.length) return;
    const qtype = msg.readUInt16BE(off);
    const question = msg.subarray(12, off + 4);
    const name = labels.join('.').toLowerCase();
    const typeName = (Object.keys(TYPE) as Array<keyof typeof TYPE>).find((k) => TYPE[k] === qtype) ?? String(qtype);
    this.queries.push(`${typeName} ${name}`);

    const known = this.records.get(name);
    const rcode = this.failing ? 2 : known === undefined ? 3 : 0;
    const answers = rcode === 0 ? known!.filter((r) => TYPE[r.type] === qtype).map(encodeRecord) : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(msg.readUInt16BE(0), 0); // id
    const rd = msg[2]! & 0x01;
    header[2] = 0x80 | 0x04 | rd; // QR, AA, RD copied
    header[3] = 0x80 | rcode; // RA, RCODE
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    this.socket.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
  }
}

/** One answer record, its owner name a pointer to the question (offset 12). */
function encodeRecord(r: FakeRecord): Buffer {
  let rdata: Buffer;
  if (r.type === 'A') {
    rdata = Buffer.from(r.address.split('.').map(Number));
  } else if (r.type === 'AAAA') {
    if (!isIPv6(r.address)) throw new Error(`not IPv6: ${r.address}`);
    rdata = ipv6Bytes(r.address);
  } else {
    const fixed = Buffer.alloc(6);
    fixed.writeUInt16BE(r.priority, 0);
    fixed.writeUInt16BE(r.weight, 2);
    fixed.writeUInt16BE(r.port, 4);
    rdata = Buffer.concat([fixed, encodeName(r.target)]);
  }
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0);
  head.writeUInt16BE(TYPE[r.type], 2);
  head.writeUInt16BE(1, 4); // IN
  head.writeUInt32BE(r.ttl, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter((p) => p.length > 0);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(addr: string): Buffer {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g || '0', 16), i * 2));
  return out;
}
