// Package accuracy scores gpuwatch's estimator against the ground truth
// of simulated runs (internal/simulate): Evaluate runs one scenario end to
// end as a user's trace would go (simulate, write `trace-cmd report` text,
// read it back, analyse it with a fresh gaps engine) and Score compares
// the snapshot with the truth; Grid is the benchmark's scenarios, grouped
// in classes (Class) each with its target (Result.TargetMet); Summarize
// aggregates a class, with the coverage of the estimator's intervals
// (how often the truth lies within estimate ± 2·error).
//
// What is compared:
//
//   - share: the measured share (the fraction of the time the guest had
//     work outstanding during which the VF held the GPU) against
//     Truth.HeldShare; the schedule share (slice/period) against
//     Truth.Share.
//   - slice against Truth.Slice (Truth.Quantum on a liquid host), period
//     against Truth.Period (the mean turn-to-turn time).
//   - windows: detected switched-out windows against the true ones the
//     guest could see (F1), against guest-idle spans and vCPU steal
//     episodes (false switch-outs).
//   - the verdict: an expectation above the true share (plus the
//     world-switch allowance) must never pass.
//
// The engine's fields are read through the accessors in snapfields.go
// only, so a change of the snapshot's shape is met in one place.
package accuracy
