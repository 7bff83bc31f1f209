// The gRPC service the bench calls, defined without a .proto file: one unary method that
// echoes its request bytes (messages are raw Buffers, so no protobuf code runs on either side).
import * as grpc from '@grpc/grpc-js';

const raw = (/** @type {Buffer} */ b) => b;

/** `/bench.Echo/Unary`: request bytes in, the same bytes out. */
export const ECHO_SERVICE = {
  unary: {
    path: '/bench.Echo/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
    originalName: 'Unary',
  },
};

/** @typedef {grpc.Client & { unary: (req: Buffer, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Buffer) => void) => grpc.ClientUnaryCall }} EchoClient */

const EchoClientCtor = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');

/**
 * One channel to 127.0.0.1:port over h2c.
 * @param {number} port
 * @returns {EchoClient}
 */
export function echoClient(port) {
  return /** @type {EchoClient} */ (/** @type {unknown} */ (new EchoClientCtor(`127.0.0.1:${port}`, grpc.credentials.createInsecure())));
}

/**
 * One unary call; rejects on any non-OK status or a wrong echo.
 * @param {EchoClient} client
 * @param {Buffer} msg
 * @param {number} timeoutMs
 * @returns {Promise<void>}
 */
export function callOnce(client, msg, timeoutMs) {
  return new Promise((resolve, reject) => {
    client.unary(msg, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (err) reject(new Error(`gRPC status ${err.code} (${grpc.status[err.code]}): ${err.details}`));
      else if (!res || !res.equals(msg)) reject(new Error(`gRPC answer is not the echo (${res?.length ?? 0} bytes)`));
      else resolve();
    });
  });
}

export { grpc };
