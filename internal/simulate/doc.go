// Package simulate is a discrete-event model of a GPU time-sliced between
// virtual functions (SR-IOV VFs, vGPUs) by a host scheduler, and of the
// guest's GPU scheduler driving jobs on its rings. Run emits the guest's
// scheduler events in time order, streaming with bounded memory, and
// returns the ground truth they came from: the true slice, period and
// share, every switched-out window of our VF and whether the guest had
// work in it, and the guest-idle spans. WriteReport writes the events as
// `trace-cmd report` text with tracefs.TextWriter.
//
// The model:
//
//   - Host: VFs take turns in round robin: VF i holds the whole GPU for
//     Slices[i] (± Jitter, uniform), then a world switch of SwitchCost
//     follows. Our VF is VF 0. Policy Strict gives every VF its turn even
//     when idle (AMD MxGPU "solid"); Skip skips a neighbour's turn when
//     that neighbour is idle (each neighbour has work in a given round with
//     probability NeighbourLoad: AMD "liquid", NVIDIA best effort) — when
//     every neighbour is idle our next turn follows ours after one world
//     switch (a Self window); None is passthrough (always active). The
//     host's schedule does not depend on our own load.
//   - Guest: each ring executes its hardware queue in order, the head job
//     progressing only while our VF is active (all rings stop together, and
//     run side by side while active); at most HWLimit jobs are on the
//     hardware ring, the rest wait in the scheduler's software queue. A job
//     completes (its Done event) at the instant its remaining work reaches
//     zero, which is always inside an active stretch. Queue events come from
//     the submitting process, Run events from the scheduler thread 2–12 µs
//     after a hardware slot frees (they may fall while the VF is switched
//     out: the guest's CPUs keep running), Done events from the interrupt.
//   - Workloads: "saturate" keeps Depth jobs submitted per ring (a new one
//     3–30 µs after each completion), "frames" submits JobsPerFrame jobs
//     every 1/FPS with at most two frames in flight, "bursts" saturates
//     during On and submits nothing during Off, "long" saturates with jobs
//     longer than a slice (set the ring's Job mean accordingly).
//   - Jobs are named both ways: a fence address (unique among jobs in
//     flight; ≤ 6.16 formats print it) and the ring's fence context:seqno
//     (6.17 formats); IDs count per ring.
//   - Warmup of unrecorded simulation precedes the trace, so it starts
//     mid-stream as a real recording does (completions of jobs queued
//     before it, a turn already under way).
//
// Everything is drawn from one seeded PCG: a Scenario and its Seed give the
// same events and truth on every run.
package simulate
