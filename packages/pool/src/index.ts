export { ConnectionPool, type ConnectionPoolOptions, type PoolStats, type PoolConnectMessage } from './connection-pool';
export {
  HttpConnection,
  type ResponseHandler,
  type RequestOptions,
  type RequestBodyFraming,
  type ConnectionOwner,
  type RawReader,
  type TakenSocket,
} from './http-connection';
export { peerKey, peerProtocol, parsePeerAddress, type PeerLike, type PeerAddress, type UpstreamAlpn } from './peer-like';
export { H2SessionPool, H2Session, type H2PoolStats, type H2Reservation } from './h2-session-pool';
export type { PoolRequestOptions, PoolResponse } from './buffered-request';
export { MAX_HEAD_SIZE } from './response-parser';
export type { TimeoutTarget } from './timeout-sweep';
