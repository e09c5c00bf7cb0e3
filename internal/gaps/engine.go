package gaps

import (
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// Config tunes an Engine. The zero Config is the offline default.
type Config struct {
	// Horizon bounds the live view: windows and the Recent estimate cover
	// the last Horizon of trace time. Zero keeps everything (offline).
	Horizon time.Duration
}

// Engine is the incremental analysis. It is not safe for concurrent use:
// one goroutine feeds it and takes snapshots.
type Engine struct {
	cfg  Config
	snap Snapshot
}

// New returns an engine.
func New(cfg Config) *Engine {
	return &Engine{cfg: cfg, snap: Snapshot{Input: Input{ByName: map[string]uint64{}}}}
}

// Feed adds one event. Events must come in non-decreasing time order.
func (e *Engine) Feed(ev event.Event) {
	// Placeholder until the engine lands: counts only.
	if ev.Kind == event.KindLost {
		e.snap.Input.Lost += ev.Count
		return
	}
	e.snap.Input.Events++
	e.snap.Input.ByName[ev.Name]++
	if e.snap.Start == 0 {
		e.snap.Start = ev.Time
	}
	e.snap.End = ev.Time
}

// Advance tells the engine that trace time has reached now without events
// (live sources call it on each tick).
func (e *Engine) Advance(now int64) {
	if now > e.snap.End {
		e.snap.End = now
	}
}

// Snapshot returns the current state. The result is not modified later.
func (e *Engine) Snapshot() *Snapshot {
	s := e.snap
	s.Input.ByName = make(map[string]uint64, len(e.snap.Input.ByName))
	for k, v := range e.snap.Input.ByName {
		s.Input.ByName[k] = v
	}
	return &s
}

// Reset forgets everything fed so far (the TUI's "r").
func (e *Engine) Reset() { *e = *New(e.cfg) }
