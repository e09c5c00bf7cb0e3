package replay

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/input"
)

// Clock is the wall clock a Source paces on; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// After behaves like time.After.
	After(d time.Duration) <-chan time.Time
}

type wallClock struct{}

func (wallClock) Now() time.Time                         { return time.Now() }
func (wallClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// slack is how early an event may be released: waiting for less than this
// costs more than it is worth (timer granularity), and batching keeps the
// cost per event low at high rates.
const slack = 500 * time.Microsecond

// Source paces the events of another source on the wall clock. Next and
// Close may be called from different goroutines, and Now from any.
type Source struct {
	src   event.Source
	speed float64
	clk   Clock
	close func() error

	done      chan struct{}
	readMu    sync.Mutex // held while reading src, and while closing it
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	started bool
	t0      int64     // trace time of the first event
	w0      time.Time // wall time the first event was released
	limit   int64     // Now never passes this (the event being delivered)
	eof     bool

	in *input.Input // where OpenInput opened it
}

// New paces src at speed× trace time (speed <= 0: as fast as possible).
func New(src event.Source, speed float64) *Source {
	return NewWithClock(src, speed, wallClock{})
}

// NewWithClock is New on an explicit wall clock.
func NewWithClock(src event.Source, speed float64, clk Clock) *Source {
	if math.IsNaN(speed) || math.IsInf(speed, 0) {
		speed = 0
	}
	s := &Source{src: src, speed: speed, clk: clk, done: make(chan struct{})}
	if c, ok := src.(io.Closer); ok {
		s.close = c.Close
	}
	return s
}

// Open replays the trace at path (any input internal/input opens: report
// text or trace.dat, plain, gzip or zstd) at speed× trace time (0 or
// below: as fast as possible).
func Open(path string, speed float64) (*Source, error) {
	in, err := input.Open(path, input.Options{})
	if err != nil {
		return nil, err
	}
	return OpenInput(in, speed)
}

// OpenInput replays an opened input at speed; closing the Source closes
// in. It reads the first event at once, so that a file that is not a
// trace of GPU scheduler events fails here, before a view starts, with
// the error analyze gives for it.
func OpenInput(in *input.Input, speed float64) (*Source, error) {
	src := in.Source()
	first, err := src.Next()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = in.Check()
			if err == nil {
				err = fmt.Errorf("%s: no events in the trace", in.Name)
			}
			// Say why: the lines the reader skipped, if any.
			if st := in.Stats(); len(st.Warnings) > 0 {
				err = fmt.Errorf("%w (%d line(s) skipped; the first: %s)", err, st.WarningsTotal, st.Warnings[0])
			}
		}
		in.Close()
		return nil, err
	}
	s := New(&peeked{first: first, src: src}, speed)
	s.close = in.Close
	s.in = in
	return s, nil
}

// Next returns the next event once its time has come. It returns io.EOF
// at the end of the trace and after Close.
func (s *Source) Next() (event.Event, error) {
	s.readMu.Lock()
	select {
	case <-s.done:
		s.readMu.Unlock()
		return event.Event{}, io.EOF
	default:
	}
	ev, err := s.src.Next()
	s.readMu.Unlock()
	if err != nil {
		s.mu.Lock()
		s.eof = true
		s.mu.Unlock()
		return ev, err
	}
	s.mu.Lock()
	if !s.started {
		s.started = true
		s.t0, s.w0 = ev.Time, s.clk.Now()
		s.limit = ev.Time
		s.mu.Unlock()
		return ev, nil
	}
	if ev.Time > s.limit {
		s.limit = ev.Time
	}
	if s.speed <= 0 {
		s.mu.Unlock()
		return ev, nil
	}
	due := s.w0.Add(time.Duration(float64(ev.Time-s.t0) / s.speed))
	s.mu.Unlock()
	for {
		wait := due.Sub(s.clk.Now())
		if wait <= slack {
			return ev, nil
		}
		select {
		case <-s.done:
			return event.Event{}, io.EOF
		case <-s.clk.After(wait):
		}
	}
}

// Now is the trace time that corresponds to the wall clock now, never
// past the event being delivered (so the engine is never advanced beyond
// an event it has not been fed yet). Before the first event it is 0.
func (s *Source) Now() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return 0
	}
	if s.speed <= 0 || s.eof {
		return s.limit
	}
	t := s.t0 + int64(float64(s.clk.Now().Sub(s.w0))*s.speed)
	if t > s.limit {
		t = s.limit
	}
	return t
}

// Close stops the replay: a Next waiting for its event's time returns
// io.EOF, and so does every later one. It closes the file Open opened.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.readMu.Lock()
		defer s.readMu.Unlock()
		if s.close != nil {
			s.closeErr = s.close()
		}
	})
	return s.closeErr
}

// Warnings returns the input lines the reader skipped, as
// "file:line: message" (the first ones it kept), and how many there were
// in all; none for a source not opened by Open or OpenInput. Call it once
// Next has returned (it takes the read lock).
func (s *Source) Warnings() (first []string, total uint64) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	if s.in == nil {
		return nil, 0
	}
	st := s.in.Stats()
	return st.Warnings, st.WarningsTotal
}

// peeked is a source whose first event was already read.
type peeked struct {
	first event.Event
	used  bool
	src   event.Source
}

func (p *peeked) Next() (event.Event, error) {
	if !p.used {
		p.used = true
		return p.first, nil
	}
	return p.src.Next()
}

func (p *peeked) Close() error {
	if c, ok := p.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
