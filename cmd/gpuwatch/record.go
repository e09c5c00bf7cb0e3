package main

import (
	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
)

// recordingSource tees every event to a report text writer.
type recordingSource struct {
	src event.Source
	w   *tracefs.TextWriter
	err error
}

func (r *recordingSource) Next() (event.Event, error) {
	ev, err := r.src.Next()
	if err == nil && r.err == nil {
		r.err = r.w.Write(ev)
	}
	return ev, err
}

// source is r as the runner should see it: with the wrapped source's
// clock and stop when it has them, without when it has not (so the runner
// neither advances the engine to 0 nor waits for a drain that never ends).
func (r *recordingSource) source() event.Source {
	switch r.src.(type) {
	case liveSource:
		return recordingLive{r}
	case live.Clock:
		return recordingClock{r}
	}
	return r
}

// liveSource is a source that has a clock and drains at stop.
type liveSource interface {
	event.Source
	live.Clock
	live.Stopper
}

type recordingClock struct{ *recordingSource }

func (r recordingClock) Now() int64 { return r.src.(live.Clock).Now() }

type recordingLive struct{ *recordingSource }

func (r recordingLive) Now() int64 { return r.src.(live.Clock).Now() }
func (r recordingLive) Stop()      { r.src.(live.Stopper).Stop() }
