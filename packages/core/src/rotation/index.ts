/**
 * @packageDocumentation
 * `@tokenkeep/core/rotation`: single-use refresh tokens redeemed once across every process that
 * shares a store, with successors for late arrivals and a long-lived "redeemed" marker.
 */

export {
  createRotationCoordinator,
  DEFAULT_SUCCESSOR_TTL_MS,
  type RotateOptions,
  type RotationCoordinator,
  type RotationCoordinatorOptions,
  type RotationEvent,
  type RotationEventType,
  type RotationRedeemContext,
  type RotationRedeemer,
  type RotationStats,
  type RotationVerifier,
} from "./rotation.js";
