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
export { peerKey, parsePeerAddress, type PeerLike, type PeerAddress } from './peer-like';
export type { PoolRequestOptions, PoolResponse } from './buffered-request';
export { MAX_HEAD_SIZE } from './response-parser';
