/** Exact hallucination metrics (MDPO.md, "Offline hallucination metrics"). */
export * from './chair';
export * from './pope';
export * from './reliance';
