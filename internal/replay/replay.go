package replay

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/tracefs"
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

// Decoder turns the (decompressed) bytes of a recorded trace into events;
// name is used in warnings and errors.
type Decoder func(r io.Reader, name string) (event.Source, error)

// ReportText is the Decoder of `trace-cmd report` and tracefs trace text.
func ReportText(r io.Reader, name string) (event.Source, error) {
	return tracefs.NewTextReader(r, name), nil
}

// Open replays the `trace-cmd report` text at path (gzip accepted) at
// speed× trace time (0 or below: as fast as possible).
func Open(path string, speed float64) (*Source, error) {
	return OpenWith(path, speed, ReportText)
}

// OpenWith replays the trace at path (gzip accepted, detected by its
// magic) decoded by dec, at speed.
func OpenWith(path string, speed float64, dec Decoder) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening replay: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	var zr *gzip.Reader
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err = gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("reading gzip header of %s: %w", path, err)
		}
		r = zr
	}
	src, err := dec(r, path)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("replaying %s: %w", path, err)
	}
	// Read the first event now, so that a file that is not a trace fails
	// here, before a view starts, with the decoder's error.
	first, err := src.Next()
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			// Say why: the lines the decoder skipped, if any.
			why := ""
			if first, total := decoderWarnings(src); len(first) > 0 {
				why = fmt.Sprintf(" (%d line(s) skipped; the first: %s)", total, first[0])
			}
			return nil, fmt.Errorf("replaying %s: no events in the trace%s", path, why)
		}
		return nil, fmt.Errorf("replaying %s: %w", path, err)
	}
	s := New(&peeked{first: first, src: src}, speed)
	inner := s.close
	s.close = func() error {
		var errs []error
		if inner != nil {
			errs = append(errs, inner())
		}
		if zr != nil {
			errs = append(errs, zr.Close())
		}
		errs = append(errs, f.Close())
		return errors.Join(errs...)
	}
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

// Warnings returns the input lines the decoder skipped, as
// "file:line: message" (the first ones it kept), and how many there were
// in all; none for a decoder that reports no warnings. Call it once Next
// has returned (it takes the read lock).
func (s *Source) Warnings() (first []string, total int) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	src := s.src
	if p, ok := src.(*peeked); ok {
		src = p.src
	}
	return decoderWarnings(src)
}

// decoderWarnings is Warnings of a decoder's source.
func decoderWarnings(src event.Source) (first []string, total int) {
	w, ok := src.(interface {
		Warnings() []tracefs.Warning
		Stats() tracefs.TextStats
	})
	if !ok {
		return nil, 0
	}
	for _, x := range w.Warnings() {
		first = append(first, x.Error())
	}
	return first, max(len(first), w.Stats().Malformed)
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
