/**
 * gRPC through the proxy with @grpc/grpc-js on both ends: the client speaks h2c to the proxy
 * (prior knowledge, the same port as HTTP/1.1), the proxy speaks h2c to the gRPC server
 * (`alpn: 'h2'`). The four call kinds, status, metadata (text and `-bin`), deadlines, a client
 * cancel reaching the server, and UNAVAILABLE when no upstream answers.
 */
import * as grpc from '@grpc/grpc-js';
import * as net from 'node:net';
import { HttpPeer, type ProxyHttp } from '@pingora-ts/proxy';
import { DOWNSTREAMS, Resources, startProxy, until, useDownstream } from './resources';

const res = new Resources();
afterEach(() => res.closeAll());

const same = (b: Buffer): Buffer => b;
function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return { path: `/test.Echo/${name}`, requestStream, responseStream, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same };
}
/** A service over raw bytes: no .proto needed. */
const ECHO = {
  unary: method('Unary', false, false),
  serverStream: method('ServerStream', false, true),
  clientStream: method('ClientStream', true, false),
  bidi: method('Bidi', true, true),
} satisfies grpc.ServiceDefinition;

interface EchoClient extends grpc.Client {
  unary(req: Buffer, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientUnaryCall;
  serverStream(req: Buffer, md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientReadableStream<Buffer>;
  clientStream(md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): grpc.ClientWritableStream<Buffer>;
  bidi(md?: grpc.Metadata, opts?: grpc.CallOptions): grpc.ClientDuplexStream<Buffer, Buffer>;
}
const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO, 'Echo') as unknown as new (addr: string, creds: grpc.ChannelCredentials) => EchoClient;

interface Origin {
  port: number;
  /** Calls the server saw cancelled. */
  cancelled: string[];
}

async function startOrigin(): Promise<Origin> {
  const origin: Origin = { port: 0, cancelled: [] };
  const server = new grpc.Server();
  const impl: grpc.UntypedServiceImplementation = {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const text = call.request.toString();
      if (text === 'fail') {
        const md = new grpc.Metadata();
        md.set('why-bin', Buffer.from([0, 1, 2, 255]));
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'no such thing', metadata: md });
        return;
      }
      if (text === 'slow') {
        call.on('cancelled', () => origin.cancelled.push('unary'));
        setTimeout(() => cb(null, Buffer.from('late')), 3000).unref();
        return;
      }
      const md = new grpc.Metadata();
      md.set('echo-head', String(call.metadata.get('x-test')[0] ?? ''));
      call.sendMetadata(md);
      const trailer = new grpc.Metadata();
      trailer.set('bin-trailer-bin', Buffer.from([9, 8, 7, 0]));
      cb(null, Buffer.from(`echo:${text}`), trailer);
    },
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      const n = Number(call.request.toString());
      if (n < 0) {
        call.on('cancelled', () => origin.cancelled.push('serverStream'));
        const t = setInterval(() => call.write(Buffer.from('tick')), 10);
        call.on('cancelled', () => clearInterval(t));
        return;
      }
      for (let i = 0; i < n; i++) call.write(Buffer.from(`item ${i}`));
      call.end();
    },
    clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      let total = 0;
      let count = 0;
      call.on('data', (b: Buffer) => {
        total += b.length;
        count++;
      });
      call.on('end', () => cb(null, Buffer.from(`${count} messages, ${total} bytes`)));
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.from(`re:${b.toString()}`)));
      call.on('end', () => call.end());
    },
  };
  server.addService(ECHO, impl);
  origin.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
  );
  res.defer(() => new Promise<void>((r) => server.tryShutdown(() => r())).then(() => server.forceShutdown()));
  return origin;
}

async function startGrpcProxy(upstreamPort: number): Promise<EchoClient> {
  const peer = new HttpPeer(`127.0.0.1:${upstreamPort}`, false, '', { alpn: 'h2' });
  const app: ProxyHttp<null> = { newCtx: () => null, upstreamPeer: () => peer };
  const { port } = await startProxy(res, app);
  const c = new EchoClientCtor(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  res.defer(() => c.close());
  return c;
}

function unary(c: EchoClient, text: string, md = new grpc.Metadata(), opts: grpc.CallOptions = {}): Promise<{ err: grpc.ServiceError | null; value: string; head: grpc.Metadata | null; status: grpc.StatusObject | null }> {
  return new Promise((resolve) => {
    let head: grpc.Metadata | null = null;
    let status: grpc.StatusObject | null = null;
    let done: { err: grpc.ServiceError | null; value: string } | null = null;
    const finish = (): void => {
      if (done && status) resolve({ ...done, head, status });
    };
    const call = c.unary(Buffer.from(text), md, opts, (err, v) => {
      done = { err, value: v?.toString() ?? '' };
      finish();
    });
    call.on('metadata', (m) => (head = m));
    call.on('status', (s) => {
      status = s;
      finish();
    });
  });
}

describe.each(DOWNSTREAMS)('%s listener', (downstream) => {
  beforeEach(() => useDownstream(downstream));

  test('unary: message, head metadata, binary trailers and an error status pass', async () => {
    const origin = await startOrigin();
    const c = await startGrpcProxy(origin.port);
    const md = new grpc.Metadata();
    md.set('x-test', 'hello');
    const ok = await unary(c, 'ping', md);
    expect(ok.err).toBeNull();
    expect(ok.value).toBe('echo:ping');
    expect(ok.head?.get('echo-head')).toEqual(['hello']);
    expect(ok.status?.code).toBe(grpc.status.OK);
    expect(ok.status?.metadata.get('bin-trailer-bin')).toEqual([Buffer.from([9, 8, 7, 0])]);

    const bad = await unary(c, 'fail');
    expect(bad.err?.details).toBe('no such thing');
    expect(bad.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(bad.err?.details).toBe('no such thing');
    expect(bad.status?.metadata.get('why-bin')).toEqual([Buffer.from([0, 1, 2, 255])]);
  });

  test('server streaming, client streaming and bidi streaming', async () => {
    const origin = await startOrigin();
    const c = await startGrpcProxy(origin.port);

    const items: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = c.serverStream(Buffer.from('500'));
      s.on('data', (b: Buffer) => items.push(b.toString()));
      s.on('error', reject);
      s.on('end', resolve);
    });
    expect(items).toHaveLength(500);
    expect(items[499]).toBe('item 499');

    const summary = await new Promise<string>((resolve, reject) => {
      const w = c.clientStream(new grpc.Metadata(), {}, (err, v) => (err ? reject(err) : resolve(v?.toString() ?? '')));
      for (let i = 0; i < 200; i++) w.write(Buffer.alloc(1000, i));
      w.end();
    });
    expect(summary).toBe('200 messages, 200000 bytes');

    const replies: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const d = c.bidi();
      let i = 0;
      d.on('data', (b: Buffer) => {
        replies.push(b.toString());
        if (++i < 100) d.write(Buffer.from(`m${i}`));
        else d.end();
      });
      d.on('error', reject);
      d.on('end', resolve);
      d.write(Buffer.from('m0'));
    });
    expect(replies).toHaveLength(100);
    expect(replies[99]).toBe('re:m99');
  });

  test('the deadline reaches the upstream, and a client cancel becomes a cancel upstream', async () => {
    const origin = await startOrigin();
    const c = await startGrpcProxy(origin.port);
    const late = await unary(c, 'slow', new grpc.Metadata(), { deadline: Date.now() + 300 });
    expect(late.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await until(() => origin.cancelled.includes('unary'), 3000);

    const s = c.serverStream(Buffer.from('-1'));
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.on('error', () => {});
    s.cancel();
    await until(() => origin.cancelled.includes('serverStream'), 3000);
  });

  test('no upstream reachable: UNAVAILABLE (trailers-only), never an HTTP error page', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const deadPort = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const c = await startGrpcProxy(deadPort);
    const r = await unary(c, 'ping');
    expect(r.err?.code).toBe(grpc.status.UNAVAILABLE);
  });
});
