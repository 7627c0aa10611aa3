import type { components } from "../../../api/schema";

export type Runner = components["schemas"]["RunnerOut"];
export type Gpu = components["schemas"]["GpuOut"];
export type Instance = components["schemas"]["InstanceOut"];
export type CatalogueModel = components["schemas"]["ModelOut"];
export type RunnerToken = components["schemas"]["RunnerTokenOut"];
export type Decision = components["schemas"]["DecisionOut"];

/** Everything the Runners page shows, fetched together on every refresh. */
export interface RunnersData {
  runners: Runner[];
  models: CatalogueModel[];
  tokens: RunnerToken[];
  decisions: Decision[];
}
