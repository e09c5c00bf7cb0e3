// Package replay feeds a recorded trace (any input internal/input opens:
// trace-cmd report text or trace.dat, plain, gzip or zstd) through the live
// path at a chosen speed, so that `gpuwatch watch --replay FILE` shows the
// TUI and the exporter on any machine, without a GPU. A file that is no
// trace of GPU scheduler events fails in Open, with analyze's error.
//
// A Source paces the events of an underlying event.Source on the wall
// clock: an event at trace time t is released when speed×(wall time since
// the first event) reaches t minus the first event's time. Source also
// implements live.Clock (Now), so windows that are still open while the
// replay waits show as open, exactly as they would live. A speed of 0 or
// below replays as fast as the reader goes.
package replay
