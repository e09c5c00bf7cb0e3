package live

import (
	"io"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

type plainSource struct{}

func (plainSource) Next() (event.Event, error) { return event.Event{}, io.EOF }

type liveish struct {
	plainSource
	stopped *bool
}

func (liveish) Now() int64 { return 42 }
func (l liveish) Stop()    { *l.stopped = true }

// TestForward: a wrapper gets the clock and stop of the source it reads,
// and nothing the source lacks.
func TestForward(t *testing.T) {
	var stopped bool
	outer := plainSource{}
	got := Forward(liveish{stopped: &stopped}, outer)
	c, ok := got.(Clock)
	if !ok || c.Now() != 42 {
		t.Fatalf("Forward of a clocked source: %T has no clock of it", got)
	}
	st, ok := got.(Stopper)
	if !ok {
		t.Fatalf("Forward of a stopping source: %T cannot stop", got)
	}
	st.Stop()
	if !stopped {
		t.Error("Stop did not reach the inner source")
	}
	plain := Forward(plainSource{}, outer)
	if _, ok := plain.(Clock); ok {
		t.Error("Forward gave a clock to a wrapper of a source without one")
	}
	if _, ok := plain.(Stopper); ok {
		t.Error("Forward gave a stop to a wrapper of a source without one")
	}
}
