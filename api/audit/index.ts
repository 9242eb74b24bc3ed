export * from './record.ts';
export * from './keys.ts';
