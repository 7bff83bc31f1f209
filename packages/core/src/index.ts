export * from './proxy-error';
export * from './service';
export * from './logger';
