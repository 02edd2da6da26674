import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { popExpiring, pushExpiring } from "./expiry-queue.js";

describe("the expiry queue", () => {
  it("gives items back earliest expiry first, however they were pushed and popped", () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined })), (steps) => {
        // A number pushes an item expiring then; `undefined` pops one. The model: a sorted list.
        const queue: { expiresAt: number }[] = [];
        let model: number[] = [];
        for (const step of steps) {
          if (step === undefined) {
            expect(popExpiring(queue)?.expiresAt).toBe(model.shift());
          } else {
            pushExpiring(queue, { expiresAt: step });
            model = [...model, step].sort((a, b) => a - b);
          }
          expect(queue.length).toBe(model.length);
        }
      }),
    );
  });
});
