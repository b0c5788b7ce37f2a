// The engine's public surface: device start-up, scoped memory, ops, parameters, optimisation.
export * from "./device.ts";
export * from "./executor.ts";
export * from "./compile.ts";
export * from "./scope.ts";
export * as ops from "./ops.ts";
export * from "./params.ts";
export * from "./optim.ts";
export * from "./schedule.ts";
export * from "./rng.ts";
