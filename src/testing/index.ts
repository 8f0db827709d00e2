/**
 * Test helpers: an in-process relay network whose links the test controls, and the contract
 * suite every storage adapter must pass.
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
export { runStorageAdapterTests, type StorageAdapterTestContext } from './storage-contract.ts'
