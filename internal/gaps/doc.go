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
package gaps
