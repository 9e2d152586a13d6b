/** Exact hallucination metrics (docs/metrics.md). */
export * from './chair';
export * from './pope';
export * from './reliance';
