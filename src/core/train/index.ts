export * from './types';
export * from './config';
export * from './loop';
export * from './optimizer';
export * from './schedule';
export * from './gradients';
export * from './checkpoint';
export { RefCache } from './ref-cache';
export { pixelBatch } from './pixels';
