export * from './variants';
export * from './loss';
export * from './sft';
