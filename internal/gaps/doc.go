// Package gaps is gpuwatch's engine: it follows job lifecycles per ring,
// finds the windows in which the guest made no progress, tells a VF being
// switched out (work outstanding, nothing completes) from the guest having
// no work, and infers the host's time-slice schedule (slice, period, share,
// number of VFs, mode) with a confidence.
//
// The engine is fed events in time order, one at a time, keeps bounded
// state and hands out immutable Snapshots. It does no I/O, reads no clock
// and starts no goroutines, so a trace replays to the same answer offline
// and live.
//
// # The model
//
// Assumed about the host: it time-slices the GPU between VFs. In fixed
// mode our VF holds the GPU for Slice, then is off for Off while the other
// VFs run; Period = Slice + Off = VFs·(Slice + switch cost), and turns start
// on a lattice ψ + k·Period (rigid, or drifting step by step when the host
// re-arms a relative timer after each switch). In variable
// (work-conserving) mode the host still switches on a grid of slots
// Q = Slice + switch cost but skips idle VFs, so turns are whole numbers of
// slots apart. A liquid host also gives a VF whose neighbours are idle
// further whole quanta without a switch, and switches a neighbour early
// when its work runs out: turns last whole multiples of the quantum, and
// the off-times follow no grid. A switch preempts the running job, which
// resumes at the next turn.
//
// Assumed about the guest: it submits jobs to its rings and is told of
// each completion; the completion tracepoint fires when the GPU finishes a
// job, unless the guest itself is held up (its vCPU descheduled, the
// driver's thread late), in which case the completions come late, in a
// burst.
//
// Measured: the completion gaps while work was outstanding (histograms),
// split by a threshold into the normal spacing (in-turn: one job's service
// time when the guest saturates; see spacing) and no-progress windows. A
// window is seen from the last completion before a switch-out to the first
// after the switch-in, so it is Off plus the service time of the job that
// straddles the switch (length-biased, E[g²]/E[g], when work was
// outstanding across it). The measured share (share.go) is the busy time
// less the no-progress windows, each less its straddling job; the
// schedule adds only the switch-outs too short to leave a window of their
// own (short stretches across a predicted turn start or slot boundary,
// switch-outs inside turns of whole quanta, switches straight back),
// with their doubt. Steal windows (noteBurst in engine.go: a stretch
// closed by several completions at once, as many as the GPU finished
// meanwhile) are no switch-outs and count as served.
//
// Inferred (infer.go, one step per file): the turns (turns.go,
// lattice.go: a lattice fitted to the window ends), which edges are late
// deliveries (classify.go), the off-time (offtime.go), the turn phase and
// slice (slice.go), or in variable mode the slot grid (variable.go) or
// the turns as whole quanta (quanta.go); the
// VF count (vfs.go) and the confidence (confidence.go). Every tuned number
// is a field of tuning (tuning.go). docs/inference.md describes the steps.
package gaps
