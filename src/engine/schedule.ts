// Learning-rate schedules: linear warmup, then cosine or linear decay to minLrRatio * lr, or constant.

export interface ScheduleConfig {
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  /** "cosine" | "linear" | "constant" after warmup. */
  decay: "cosine" | "linear" | "constant";
  /** Final lr as a fraction of lr (default 0.1). */
  minLrRatio?: number;
}

export function learningRate(c: ScheduleConfig, step: number): number {
  const minLr = c.lr * (c.minLrRatio ?? 0.1);
  if (c.warmupSteps > 0 && step < c.warmupSteps) return (c.lr * (step + 1)) / c.warmupSteps;
  if (c.decay === "constant") return c.lr;
  const span = Math.max(1, c.totalSteps - c.warmupSteps);
  const t = Math.min(1, Math.max(0, (step - c.warmupSteps) / span));
  if (c.decay === "linear") return c.lr + (minLr - c.lr) * t;
  return minLr + 0.5 * (c.lr - minLr) * (1 + Math.cos(Math.PI * t));
}
