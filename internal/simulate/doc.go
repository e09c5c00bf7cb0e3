// Package simulate is a discrete-event model of a GPU time-sliced between
// virtual functions (SR-IOV VFs, vGPUs) by a host scheduler, and of the
// guest's GPU scheduler driving jobs on its rings. Run emits the guest's
// scheduler events in time order, streaming with bounded memory, and
// returns the ground truth they came from (Truth): the true slice, period
// and share, the held share (the part of the time the guest had work
// outstanding in which our VF held the GPU), every switched-out window of
// our VF and whether the guest had work in it, the guest-idle spans, and
// the steal and outage spans. WriteReport writes the events as
// `trace-cmd report` text with reporttext.Writer; Events reads that text
// back, giving the events as a source of the chosen format does (for
// tests that feed an engine in memory).
//
// The model (docs/simulator.md has the sources of each host model):
//
//   - Host: VFs take turns in round robin: VF i holds the whole GPU for
//     Slices[i], then a world switch of SwitchCost follows (with
//     SwitchStep, the cost varies in polling steps). Our VF is VF 0.
//     Per-switch Jitter is added to each switch-out: JitterMode
//     Accumulate times each turn from the end of the previous switch (a
//     relative timer: turn starts random-walk), Deadline from absolute
//     deadlines (no accumulation). Policies: Strict gives every VF its
//     turn even when idle (AMD "solid"); Fairness is Strict with each
//     VF's overrun charged to its next slice, floored at half a slice;
//     Skip skips a neighbour's turn when that neighbour is idle (each
//     neighbour has work in a given round with its own probability, or
//     runs its own on/off load: Neighbours, NeighbourLoad, NeighbourOn/Off)
//     — when every neighbour is idle our next turn follows ours after one
//     world switch (a Self window); Liquid skips idle VFs at no cost,
//     gives our VF further whole quanta while no neighbour has work, and
//     switches a neighbour out early (after EarlySwitch) when its work
//     runs out; None is passthrough (always active). The host treats our
//     VF as always having work: its schedule does not depend on our load.
//     Outages cut our turn and give us none for their span. A job running
//     at switch-out is preempted and resumes at our next turn.
//   - Guest: each ring executes its hardware queue in order, the head job
//     progressing only while our VF is active (all rings stop together, and
//     run side by side while active); at most HWLimit jobs are on the
//     hardware ring, the rest wait in the scheduler's software queue. A job
//     completes (its Done event) at the instant its remaining work reaches
//     zero, which is always inside an active stretch. Queue events come from
//     the submitting process, Run events from the scheduler thread 2–12 µs
//     after a hardware slot frees (they may fall while the VF is switched
//     out: the guest's CPUs keep running), Done events from the interrupt.
//     With StealEvery, the vCPU taking the interrupt is descheduled in
//     episodes: completions inside one are signalled 2–4 µs after it
//     ends (the GPU kept running; the guest learns late, in a burst, and
//     frees hardware slots and submits only then).
//   - Workloads: "saturate" keeps Depth jobs submitted per ring (a new one
//     3–30 µs after each completion), "frames" submits JobsPerFrame jobs
//     every 1/FPS with at most two frames in flight, "bursts" saturates
//     during On and submits nothing during Off, "long" saturates with jobs
//     longer than a slice (set the ring's Job mean accordingly). Job
//     durations are constant, exponential, uniform (± 50 %) or bimodal
//     (1 job in 20 is 20 times as long), around the ring's mean.
//   - Jobs are named both ways: a fence address (unique among jobs in
//     flight; ≤ 6.16 formats print it) and the ring's fence context:seqno
//     (6.17 formats); IDs count per ring.
//   - Warmup of unrecorded simulation precedes the trace, so it starts
//     mid-stream as a real recording does (completions of jobs queued
//     before it, a turn already under way).
//
// Everything is drawn from seeded PCGs (steal episodes from a stream of
// their own, so adding them leaves the host's schedule unchanged): a
// Scenario and its Seed give the same events and truth on every run.
// Scoring an estimator against the truth lives in internal/accuracy.
package simulate
