// Package live runs the engine on a live event source: one goroutine reads
// the source and feeds a gaps.Engine, views (JSON lines, the TUI, the
// exporter) take snapshots from any goroutine.
//
// It is the single place where a live source meets the engine, so every
// view of `gpuwatch watch` shows the same numbers as `gpuwatch analyze`
// would on the same events.
package live
