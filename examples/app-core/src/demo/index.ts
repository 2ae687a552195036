export { startApp, serviceVariables } from './harness.js'
export type { AppName, RunningApp } from './harness.js'
export { runScenario, formatReport } from './scenario.js'
export type { ScenarioReport } from './scenario.js'
