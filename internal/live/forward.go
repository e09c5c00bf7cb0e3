package live

import "github.com/gpuwatch/gpuwatch/internal/event"

// Forward returns outer, a source that reads through inner, with inner's
// Clock and Stopper where inner has them: a wrapper (a recording, a
// re-attribution) around a live source stays a live source to the
// Runner, which advances the engine by its clock and drains it at stop.
// A source without them is returned as it is.
func Forward(inner, outer event.Source) event.Source {
	c, clocked := inner.(Clock)
	st, stops := inner.(Stopper)
	switch {
	case clocked && stops:
		return clockStopper{outer, c, st}
	case clocked:
		return clockOnly{outer, c}
	case stops:
		return stopOnly{outer, st}
	}
	return outer
}

type clockStopper struct {
	event.Source
	c  Clock
	st Stopper
}

func (s clockStopper) Now() int64 { return s.c.Now() }
func (s clockStopper) Stop()      { s.st.Stop() }

type clockOnly struct {
	event.Source
	c Clock
}

func (s clockOnly) Now() int64 { return s.c.Now() }

type stopOnly struct {
	event.Source
	st Stopper
}

func (s stopOnly) Stop() { s.st.Stop() }
