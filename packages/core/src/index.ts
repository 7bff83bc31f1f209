export * from './proxy-error';
export * from './service';
