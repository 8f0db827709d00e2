/**
 * Test helpers: an in-process relay network whose links the test controls, and the seeded
 * simulator. The storage contract suite, which needs vitest, is `colloquy/testing/storage-contract`.
 */
export { createTestNetwork, TestLink, TestNetwork, type TestNetworkOptions } from './network.ts'
export {
  generateSchedule,
  type Operation,
  type SimulatedDevice,
  type SimulationOptions,
  type SimulationReport,
  seededRandom,
  shrink,
  simulate,
  VirtualClock,
} from './simulator.ts'
