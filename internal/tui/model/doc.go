// Package model turns the engine's snapshots (gaps.Snapshot with the
// run's live.Stats) and the viewer's state (zoom, pause) into plain view
// data: header and verdict lines, timeline strip cells, histogram bars,
// ring and process rows. It never imports tview or tcell; the tui package
// draws what it returns. Every function here costs time bounded by the
// size of what is drawn (cells, rows), not by the event rate.
package model
