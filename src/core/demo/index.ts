/** The demo and the full study (issue 4): base -> DPO vs mDPO (and the ablations) -> exact hallucination metrics. */
export * from './arms';
export * from './marks';
export * from './results';
export * from './study';
export * from './output';
export * from './report';
export * from './run';
export * from './progress';
