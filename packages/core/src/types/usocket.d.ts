// The part of usocket (a native addon: Unix sockets with descriptor passing) core uses.
declare module 'usocket' {
  import { Duplex } from 'node:stream';

  export class USocket extends Duplex {
    constructor(opts?: { path?: string; fd?: number });
    connect(path: string, callback?: () => void): void;
    write(chunk: { data?: Buffer; fds?: number[]; callback?: () => void } | Buffer, callback?: (err?: Error | null) => void): boolean;
    on(event: 'connected', listener: () => void): this;
    on(event: 'fds', listener: (fds: number[]) => void): this;
    on(event: 'data', listener: (data: Buffer) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    on(event: 'close' | 'end', listener: () => void): this;
    once(event: 'connected', listener: () => void): this;
    once(event: 'error', listener: (err: Error) => void): this;
    destroy(): this;
  }

  export class UServer {
    listen(path: string, callback?: () => void): void;
    on(event: 'connection', listener: (socket: USocket) => void): this;
    on(event: 'error', listener: (err: Error) => void): this;
    once(event: 'listening', listener: () => void): this;
    once(event: 'error', listener: (err: Error) => void): this;
    close(): void;
  }
}
