export * from './keys.ts';
export { BUS_DOCUMENTS_PROVIDER, outcomeOf, type Outcome } from './outcomes.ts';
export { connectRedis, redisFromFlags, redisPassword, redisTarget, RedisUrlError, REDIS_URL_ENV, REDIS_PASSWORD_ENV, type RedisTarget, type Redis } from './redis.ts';
export { listBuses, readQuotaUsed, readUsage, type UsageRow } from './read.ts';
