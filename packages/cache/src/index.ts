export * from './http';
export { MemoryCache, type MemoryCacheOptions, type MemoryCacheStats, type SetOptions, type EvictionReason } from './memory-cache';
export { RTCache, withTtl, type Lookup, type ValueWithTtl, type RTCacheOptions, type RTGetOptions, type RTCacheStats } from './rt-cache';
